"""The harden/run commands' offline behaviour: catalog listing, --apply gate, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simpul.cli import main

LAB = str(Path(__file__).resolve().parents[2] / "inventory" / "lab")


def test_controls_json_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-i", LAB, "harden", "controls", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ids = [c["id"] for c in data]
    assert "SSH-01" in ids and "FW-03" in ids and len(ids) == len(set(ids))
    assert all(c["refs"] and c["title"]["id"] and c["title"]["en"] for c in data)


def test_run_refuses_a_state_changing_command_without_apply(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-i", LAB, "run", "--limit", "pd-web", "--", "systemctl", "restart", "ssh"]) == 2
    err = capsys.readouterr().err
    assert "refusing to run without --apply" in err and "--apply" in err


def test_help_of_every_harden_command() -> None:
    for cmd in (["harden", "--help"], ["harden", "plan", "--help"], ["harden", "apply", "--help"],
                ["harden", "audit", "--help"], ["run", "--help"]):
        assert main(cmd) == 0, cmd
