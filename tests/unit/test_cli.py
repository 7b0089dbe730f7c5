"""The CLI: documented exit codes, clear errors, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simpul.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_help_lists_command_groups(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for group in ("inventory", "oplog"):
        assert group in out


def test_check_valid_and_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "check", str(REPO / "inventory/lab")]) == 0
    bad = tmp_path / "bad"
    shutil.copytree(REPO / "inventory/lab", bad)
    (bad / "sites.yaml").write_text((bad / "sites.yaml").read_text().replace("type: drc", "tipe: drc"))
    capsys.readouterr()
    assert main(["inventory", "check", str(bad)]) == 3
    out = capsys.readouterr().out
    assert "bad/sites.yaml:3 sites.drc.tipe: unknown key" in out
    assert main(["--json", "inventory", "check", str(bad)]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False and {p["path"] for p in data["problems"]} >= {
        "sites.drc.tipe",
        "sites.drc.type",
    }


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert main(["-i", str(REPO / "inventory/lab"), "inventory", "show", "--limit", "site=atlantis"]) == 2
    assert "matches no host" in capsys.readouterr().err


def test_missing_inventory_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-i", str(tmp_path / "none"), "inventory", "show"]) == 3
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_show_json_and_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--json", "-i", str(REPO / "inventory/lab"), "inventory", "show", "--limit", "site=drc"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["drc-db", "drc-backup"]
    out = tmp_path / "t.svg"
    assert main(["-i", str(REPO / "inventory/lab"), "inventory", "graph", "-o", str(out)]) == 0
    svg = __import__("html").unescape(out.read_text())
    assert svg.lstrip().startswith("<?xml") and "desa-kemloko" in svg and "10.199.0.16/30" in svg


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "simpul"
    cp = subprocess.run(
        [str(exe), "inventory", "check", str(REPO / "inventory/contoh-kabupaten")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.startswith(f"{REPO / 'inventory/contoh-kabupaten'}: valid ("), cp.stdout  # not "NOT valid"


SLOW_COMMAND = r"""
import sys, time
from pathlib import Path
import click
from simpul import cli

@cli.cli.command("test-slow")
def slow() -> None:
    Path(sys.argv[1]).write_text("started")
    try:
        time.sleep(60)
    finally:  # what a drill's heal or a build's temp-folder removal relies on
        Path(sys.argv[1]).write_text("cleaned up")

sys.exit(cli.main(["test-slow"]))
"""


def test_sigterm_runs_the_commands_clean_up_and_exits_130(tmp_path: Path) -> None:
    """A drill killed with SIGTERM once left the Pusat Data cut off (its ``finally`` never ran):
    SIGTERM is handled like Ctrl-C for every command."""
    import signal
    import time

    marker = tmp_path / "marker"
    p = subprocess.Popen([sys.executable, "-c", SLOW_COMMAND, str(marker)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the command never started"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert marker.read_text() == "cleaned up"
    assert "interrupted" in err
