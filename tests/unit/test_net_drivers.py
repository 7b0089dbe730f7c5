"""Commit-confirm command sequences of every driver, against a recorded-answer session.

Cisco IOS, Huawei VRP and MikroTik RouterOS cannot run here: these tests prove the commands the
drivers send and how they read RECORDED device answers, not the devices themselves. FRR's path
runs end to end on the lab's real routers (tests/lab/test_net_lab.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simpul.inventory import load_inventory
from simpul.network.connection import Session
from simpul.network.differ import ConfigDiff
from simpul.network.drivers import DRIVERS, Change, driver_for
from simpul.network.platforms import PLATFORMS

REPO = Path(__file__).resolve().parents[2]
INV = load_inventory(REPO / "inventory" / "lab")


class RecordedConn:
    """netmiko stand-in: logs what is sent, answers from a table of recorded outputs."""

    def __init__(self, answers: dict[str, str] | None = None) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.answers = answers or {}

    def send_command(self, cmd: str, **kw: Any) -> str:
        self.sent.append(("show", cmd))
        return self.answers.get(cmd, "")

    def send_command_timing(self, cmd: str, **kw: Any) -> str:
        self.sent.append(("timing", cmd))
        return ""

    def send_config_set(self, lines: list[str], **kw: Any) -> str:
        self.sent.append(("config", (kw.get("config_mode_command"), list(lines))))
        return ""


def _drv(platform: str, answers: dict[str, str] | None = None) -> tuple[Any, RecordedConn]:
    conn = RecordedConn(answers)
    return driver_for(Session("r1", PLATFORMS[platform], conn), INV), conn


def _change(*cmds: str) -> Change:
    return Change(ConfigDiff("x", commands=list(cmds)))


def test_every_supported_platform_has_a_driver() -> None:
    assert {p for p, row in PLATFORMS.items() if row.supported} == set(DRIVERS)


def test_cisco_revert_timer_then_configure_confirm() -> None:
    d, conn = _drv("cisco_ios")
    cid = d.commit_config(_change("interface Gi0/0/1", " description x"), revert_in=90)
    d.confirm_commit(cid)
    assert conn.sent[0] == ("config", (None, ["archive", " path flash:simpul-archive", " maximum 5", "exit"]))
    assert conn.sent[1] == ("config", ("configure terminal revert timer 2", ["interface Gi0/0/1", " description x"]))
    assert conn.sent[2] == ("show", "configure confirm")
    d.rollback(cid)
    assert conn.sent[-1] == ("show", "configure revert now")


def test_huawei_commit_trial_then_commit() -> None:
    d, conn = _drv("huawei")
    cid = d.commit_config(_change("interface GE0/0/9", " undo description"), revert_in=30)
    d.confirm_commit(cid)
    assert conn.sent[0] == ("config", (None, ["interface GE0/0/9", " undo description", "commit trial 60"]))
    assert conn.sent[1] == ("config", (None, ["commit"]))
    d.save()
    assert conn.sent[-2:] == [("timing", "save"), ("timing", "y")]


def test_routeros_scheduled_revert_removed_by_the_confirm() -> None:
    d, conn = _drv("mikrotik_routeros")
    cid = d.commit_config(_change("/ip service set telnet disabled=yes"), revert_in=120)
    d.confirm_commit(cid)
    cmds = [c for _, c in conn.sent]
    assert cmds[0] == f"/system backup save name=simpul-{cid} dont-encrypt=yes"
    assert cmds[1].startswith(f"/system scheduler add name=simpul-revert-{cid} interval=120s")
    assert f"/system backup load name=simpul-{cid}.backup" in cmds[1]
    assert cmds[2] == "/ip service set telnet disabled=yes"
    assert cmds[3] == f"/system scheduler remove [find name=simpul-revert-{cid}]"


def test_routeros_ping_reads_a_recorded_answer() -> None:
    ok = ("  SEQ HOST                                     SIZE TTL TIME       STATUS\n"
          "    0 10.252.0.1                                 56  63 1ms364us\n"
          "    sent=3 received=3 packet-loss=0% min-rtt=1ms avg-rtt=1ms max-rtt=2ms\n")
    from ipaddress import IPv4Address

    d, _ = _drv("mikrotik_routeros", {"/ping 10.252.0.1 count=3": ok})
    assert d.ping(IPv4Address("10.252.0.1"), None) is True
    d, _ = _drv("mikrotik_routeros", {"/ping 10.252.0.1 count=3": "sent=3 received=0 packet-loss=100%"})
    assert d.ping(IPv4Address("10.252.0.1"), None) is False


class HelperSession(Session):
    """An FRR session whose second channel answers like the lab's device helper."""

    def exec(self, command: str, *, timeout: float = 30.0, stdin: str | None = None) -> tuple[int, str, str]:
        self.conn.sent.append(("exec", command))
        verb = command.split()[1]
        out = {"checkpoint": {"id": "20261006T102144-abcdef"}, "arm": {"id": "x"},
               "acl-show": {"present": False, "admit": []}}.get(verb, {})
        return 0, json.dumps(out), "sudo: unable to resolve host r1: Name or service not known\n"


def test_frr_commit_goes_through_the_device_helper() -> None:
    conn = RecordedConn()
    s = HelperSession("desa-kemloko", PLATFORMS["frr"], conn)
    d = driver_for(s, INV)
    ch = _change("interface lo", "description x", "exit")
    ch.host = ["acl-set 169.254.100.0/24"]
    cid = d.commit_config(ch, revert_in=20)
    d.confirm_commit(cid)
    assert [c for k, c in conn.sent if k == "exec"] == [
        "simpul-helper checkpoint", f"simpul-helper arm {cid} 20", "simpul-helper acl-set 169.254.100.0/24",
        f"simpul-helper confirm {cid}"]
