"""Exit-code aggregation, the topology DOT (golden file) and settings errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from simpul.errors import ConfigError, ExitCode
from simpul.inventory import load_inventory
from simpul.inventory.graph import to_dot
from simpul.results import Result, Status, exit_code_for
from simpul.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"


def r(s: Status) -> Result:
    return Result("h", s)


@pytest.mark.parametrize(
    "statuses, drift, code",
    [
        ([], False, ExitCode.OK),
        ([Status.OK, Status.OK], False, ExitCode.OK),
        ([Status.OK, Status.CHANGED], False, ExitCode.OK),
        ([Status.OK, Status.CHANGED], True, ExitCode.DRIFT),
        ([Status.OK, Status.FAILED], False, ExitCode.PARTIAL),
        ([Status.OK, Status.UNREACHABLE], False, ExitCode.PARTIAL),
        ([Status.UNREACHABLE, Status.UNREACHABLE], False, ExitCode.UNREACHABLE),
        ([Status.FAILED], False, ExitCode.ERROR),
        ([Status.FAILED, Status.UNREACHABLE], False, ExitCode.PARTIAL),
    ],
)
def test_exit_code_for(statuses: list[Status], drift: bool, code: ExitCode) -> None:
    assert exit_code_for([r(s) for s in statuses], drift_is_failure=drift) == code


def test_lab_topology_matches_golden() -> None:
    dot = to_dot(load_inventory(REPO / "inventory/lab"), today=date(2026, 1, 1))
    golden = GOLDEN / "lab-topology.dot"
    if not golden.exists():
        golden.write_text(dot)
        pytest.fail(f"{golden} was missing and has been written: review it and commit it")
    assert dot == golden.read_text()


def test_site_diagram_has_only_neighbours() -> None:
    dot = to_dot(load_inventory(REPO / "inventory/lab"), site="dinkes", today=date(2026, 1, 1))
    assert '"opd-dinkes"' in dot and '"desa-bansari"' in dot and '"core-1"' in dot
    assert '"desa-kledung"' not in dot and '"pd-web"' not in dot


def test_settings_errors(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('inventori = "x"\n')
    with pytest.raises(ConfigError, match="inventori"):
        load_settings(f)
    f.write_text("inventory = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(f)
    f.write_text('inventory = "inventory/contoh-kabupaten"\n')
    assert load_settings(f).inventory == Path("inventory/contoh-kabupaten")
