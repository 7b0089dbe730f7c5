"""The lab's commands through ``simpul``: the settings the user gave decide the operations log,
``-i`` is honoured, and the lab publishes its facts for the other domains."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from labkit import LabEnv

from simpul import labinfo
from simpul.cli import main
from simpul.errors import ExitCode
from simpul.lab import orchestrate
from simpul.oplog import OpLog

pytestmark = pytest.mark.lab


def test_config_decides_the_log_that_lab_commands_write_and_oplog_show_reads(
        lab_env: LabEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "simpul.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\noplog_path = "{tmp_path / "ops.jsonl"}"\n')
    assert main(["--config", str(cfg), "lab", "up", "-q"]) == ExitCode.OK  # idempotent
    try:
        assert main(["--config", str(cfg), "lab", "link", "down", "core-kemloko"]) == ExitCode.OK
    finally:
        assert main(["--config", str(cfg), "lab", "link", "up", "core-kemloko"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["--config", str(cfg), "--json", "oplog", "show"]) == ExitCode.OK
    shown = json.loads(capsys.readouterr().out)
    assert [(r["action"], r["target"]) for r in shown] == [
        ("lab.up", "lab"), ("lab.link.down", "core-kemloko"), ("lab.link.up", "core-kemloko")]
    assert all(r["refs"] and not any("issue" in ref for ref in r["refs"]) for r in shown)
    assert OpLog(tmp_path / "ops.jsonl").verify().ok
    # nothing went to the log of the default settings ($SIMPUL_STATE_DIR of this test)
    assert main(["--json", "oplog", "show"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == []


def test_global_inventory_option_is_honoured_by_lab_commands(
        lab_env: LabEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(orchestrate.default_inventory(), inv)
    devices = yaml.safe_load((inv / "devices.yaml").read_text())
    del devices["devices"]["desa-kledung"]
    devices["links"] = {k: v for k, v in devices["links"].items() if "kledung" not in str(v)}
    (inv / "devices.yaml").write_text(yaml.safe_dump(devices))
    sites = yaml.safe_load((inv / "sites.yaml").read_text())
    del sites["sites"]["desa-kledung"]
    (inv / "sites.yaml").write_text(yaml.safe_dump(sites))
    capsys.readouterr()
    main(["-i", str(inv), "--json", "lab", "status"])
    hosts = {h["name"] for h in json.loads(capsys.readouterr().out)["hosts"]}
    assert "desa-kledung" not in hosts and "desa-kemloko" in hosts


def test_lab_publishes_its_facts_for_the_other_domains(lab_env: LabEnv) -> None:
    info = labinfo.for_inventory(orchestrate.default_inventory())
    assert info is not None
    core_ns = lab_env.topo.routers["core-1"].netns
    assert info["probe_netns"] == core_ns and Path("/run/netns", core_ns).exists()
    assert info["known_hosts"] == str(lab_env.st.known_hosts)
    assert sorted(info["sinks"]) == ["influx-v1+http://127.0.0.1:18086?db=simpul",
                                     "influx-v2+http://127.0.0.1:18428?bucket=simpul&org=lab"]
    # another inventory is not the lab's
    assert labinfo.for_inventory(Path("inventory/contoh-kabupaten")) is None
