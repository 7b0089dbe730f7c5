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
    assert "refusing to run without --apply: 'systemctl restart' is not read-only" in err


def test_help_of_every_harden_command() -> None:
    for cmd in (["harden", "--help"], ["harden", "plan", "--help"], ["harden", "apply", "--help"],
                ["harden", "audit", "--help"], ["run", "--help"]):
        assert main(cmd) == 0, cmd


def test_link_local_target_routed_via_a_gateway_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the lab down, 169.254.x would go out of the default route: never send it."""
    import subprocess

    from simpul import ssh as connection
    from simpul.errors import UnreachableError

    t = connection.Target("pd-db", "169.254.100.53", 22, "simpul", Path("/k"), Path("/kh"))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, "169.254.100.53 via 192.0.2.1 dev eth0 src 192.0.2.2\n", ""))
    with pytest.raises(UnreachableError, match="not sending packets off this machine"):
        connection.check_route(t)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, "169.254.100.53 dev slab-noc src 169.254.100.1\n", ""))
    connection.check_route(t)  # on a local LAN: fine
    routed = connection.Target("x", "10.20.0.5", 22, "simpul", Path("/k"), Path("/kh"))
    connection.check_route(routed)  # ordinary routed addresses are not second-guessed
