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
    """An FRR session whose channels answer like a lab router: the device helper for
    ``simpul-helper ...``, recorded show outputs for the rest."""

    def exec_many(self, commands: Any, *, timeout: float = 30.0, stdin: str | None = None) -> list[tuple[int, str, str]]:
        answers = {"checkpoint-arm": {"id": "20261006T102144-abcdef"},
                   "acl-show": {"present": False, "admit": []}, "startup": "hostname r1\n",
                   "ping": {"reachable": True}}
        out = []
        for command in commands:
            self.conn.sent.append(("exec", command))
            if not command.startswith("simpul-helper "):
                out.append((0, self.conn.answers.get(command, ""), ""))
                continue
            verbs = " ".join(command.split()[1:]).split(" + ")
            ans: object = [answers.get(v.split()[0], {}) for v in verbs] if len(verbs) > 1 \
                else answers.get(verbs[0].split()[0], {})
            out.append((0, "0\n" + json.dumps(ans) + "\n", ""))  # the helper's exit code, then its answer
        return out

    def exec_start(self, commands: Any, *, timeout: float = 30.0, stdin: str | None = None) -> list[Any]:
        return self.exec_many(commands)  # the "channels" are the answers

    def exec_wait(self, chans: Any, *, timeout: float = 30.0) -> list[tuple[int, str, str]]:
        return list(chans)


def test_frr_commit_goes_through_the_device_helper() -> None:
    conn = RecordedConn()
    s = HelperSession("desa-kemloko", PLATFORMS["frr"], conn)
    d = driver_for(s, INV)
    ch = _change("interface lo", "description x", "exit")
    ch.host = ["acl-set 169.254.100.0/24"]
    cid = d.commit_config(ch, revert_in=20)
    d.confirm_commit(cid)
    assert cid == "20261006T102144-abcdef"
    assert [c for k, c in conn.sent if k == "exec"] == [
        "simpul-helper checkpoint-arm 20", "simpul-helper acl-set 169.254.100.0/24",
        f"simpul-helper confirm {cid}"]


def test_frr_precheck_asks_the_device_helper_once() -> None:
    from ipaddress import IPv4Address

    conn = RecordedConn()
    s = HelperSession("desa-kemloko", PLATFORMS["frr"], conn)
    d = driver_for(s, INV)
    pd, src = IPv4Address("10.199.255.1"), IPv4Address("10.199.255.21")
    d.prefetch([(pd, src)])
    assert d.get_config("startup") == "hostname r1\n"
    assert d.ping(pd, src) is True
    # the host side in one helper call on its own channel, beside the CLI's two reads
    assert conn.sent == [("exec", "simpul-helper acl-show + startup + ping 10.199.255.1 10.199.255.21"),
                         ("show", "show running-config"), ("show", "show ip ospf neighbor json")]
    d.ping(pd, src)  # asked again (the post-check): a new helper call, not the pre-check's answer
    assert [c for k, c in conn.sent if k == "exec"][-1] == "simpul-helper ping 10.199.255.1 10.199.255.21"


def test_frr_post_check_and_confirm_are_one_helper_call_over_the_fresh_login() -> None:
    from ipaddress import IPv4Address

    conn = RecordedConn()
    d = driver_for(HelperSession("desa-kemloko", PLATFORMS["frr"], conn), INV)
    pc = d.post_check_confirm("20261006T102144-abcdef", ["10.199.255.1"],
                              [(IPv4Address("10.199.255.1"), IPv4Address("10.199.255.21"))], 11)
    assert [c for k, c in conn.sent if k == "exec"] == [
        "simpul-helper confirm-if 20261006T102144-abcdef 11 10.199.255.1 10.199.255.1/10.199.255.21"]
    assert not pc.confirmed  # the recorded helper answered {} — nothing confirmed, nothing assumed


def test_the_helper_reply_is_unwrapped_and_a_missing_service_named() -> None:
    from simpul.network.collect import helper_reply

    assert helper_reply(0, '0\n{"armed": null}\n', "") == (0, '{"armed": null}\n', "")
    assert helper_reply(0, "2\nrouter-helper: unknown verb\n", "") == (2, "", "router-helper: unknown verb")
    rc, _, err = helper_reply(1, "", '2026/12/07 socat[9] E connect(5, AF=1 "\\0simpul-router-helper", 23): '
                                     "Connection refused\n")
    assert rc == 1 and "device helper service does not answer" in err and "Connection refused" in err
    assert helper_reply(0, "hostname r1\n", "")[0] == 1  # not the helper's framing: an error, not a config


def test_frr_checkpoint_names_the_running_config_only_when_the_precheck_found_it_saved() -> None:
    conn = RecordedConn()
    d = driver_for(HelperSession("desa-kemloko", PLATFORMS["frr"], conn), INV)
    d.prefetch([])
    assert d.unsaved("Building configuration...\n\nhostname r1\n!\nend\n").empty  # as the CLI shows it
    d.commit_config(_change("interface lo", "description x", "exit"), revert_in=20)
    arm = [c for k, c in conn.sent if k == "exec"][-1].split()
    from simpul.lab.router_helper import config_digest

    assert arm == ["simpul-helper", "checkpoint-arm", "20", config_digest("hostname r1\n")]
    conn2 = RecordedConn()
    d2 = driver_for(HelperSession("desa-kemloko", PLATFORMS["frr"], conn2), INV)
    d2.prefetch([])
    assert not d2.unsaved("hostname r1\nip route 10.9.9.0/24 Null0\n").empty  # unsaved: vtysh decides
    d2.commit_config(_change("interface lo", "description x", "exit"), revert_in=20)
    assert [c for k, c in conn2.sent if k == "exec"][-1] == "simpul-helper checkpoint-arm 20"
