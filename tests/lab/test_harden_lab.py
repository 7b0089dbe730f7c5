"""Hardening against real lab servers (Debian 12 booted in namespaces, over SSH only).

Uses a private set of lab servers (``sthard<k>-web``, ``sthard<k>-app``; namespaces of the same
names on 169.254.198.0/24, built with ``lab.servers``), so it runs beside ``simpul lab up`` without
touching it. The tests run in order and share the servers: fresh → plan → apply → audit →
break one control → repair → lock-out guard → per-host failures. Everything is torn down in
the fixture's finalizer, also on failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import date
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from simpul.cli import main
from simpul.deploys.audit import HostAudit, audit_hosts, findings
from simpul.deploys.runner import Overrides, run_hosts
from simpul.errors import ExitCode
from simpul.inventory import load_inventory
from simpul.inventory.models import Hardening, Secret, SshAccess, Waiver
from simpul.lab.private import PrivateLab, leftovers_of
from simpul.oplog import OpLog
from simpul.results import Result, Status, exit_code_for
from simpul.ssh import Target, run
from simpul.ssh import server_target as target_for

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateLab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    for b in ("ip", "unshare", "ssh-keygen", "ssh"):
        if shutil.which(b) is None:
            pytest.skip(f"missing {b}")
    pl = PrivateLab(tmp_path_factory.mktemp("sthard"), ["web", "app"])
    try:
        pl.up()
        yield pl
    finally:
        pl.close()
        assert not leftovers_of(pl), "private lab namespaces left behind"


W, A = "web", "app"


def inv(lab: PrivateLab):  # type: ignore[no-untyped-def]
    return load_inventory(lab.inventory_dir)


def _audit(*args, **kw) -> list[HostAudit]:  # type: ignore[no-untyped-def]
    """Audit through the runner; the findings of each host (its Result's value)."""
    return findings(audit_hosts(*args, **kw))


def changes(r: Result) -> list[dict]:  # type: ignore[type-arg]
    return list(r.data.get("changes", []))


def changed_ops(r: Result) -> int:
    return int(r.data.get("changed_ops", 0))


def _t(lab: PrivateLab, role: str) -> Target:
    return target_for(inv(lab), lab.n(role), lab.known_hosts)


def _sha(lab: PrivateLab, role: str, path: str) -> str:
    rc, out, _ = run(_t(lab, role), f"sha256sum {path}", sudo=True)
    assert rc == 0, path
    return out.split()[0]


def _login_ok(lab: PrivateLab, role: str) -> bool:
    rc, out, _ = run(_t(lab, role), "id -un && sudo -n true && echo sudo-ok")
    return rc == 0 and "sudo-ok" in out


def _until(what: str, pred: Callable[[], bool], timeout: float = 30) -> None:
    """Wait for ``pred`` (a state the server reaches by itself) with an honest margin: never a
    fixed sleep that a loaded machine can outlast."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


def _rollbacks(lab: PrivateLab, role: str) -> str:
    return run(_t(lab, role), "cat /var/lib/simpul-guard/rollbacks.log 2>/dev/null", sudo=True)[1]


def test_plan_on_fresh_servers_lists_changes_and_changes_nothing(lab: PrivateLab) -> None:
    before = _sha(lab, "web", "/etc/ssh/sshd_config")
    runs = run_hosts(inv(lab), [lab.n(W), lab.n(A)], "plan", lab.known_hosts)
    assert [r.status for r in runs] == [Status.CHANGED, Status.CHANGED], [r.message for r in runs]
    ops = " ".join(c["op"] for c in changes(runs[0]))
    for cid in ("SSH-01", "SSH-02", "FW-01", "SYS-01", "PAM-02", "PKG-01", "IPS-01"):
        assert cid in ops, cid
    sshd = next(c for c in changes(runs[0]) if "sshd_config" in c["op"])
    assert "+PasswordAuthentication no" in sshd["detail"]  # a real diff
    assert exit_code_for(runs, drift_is_failure=True) == ExitCode.DRIFT
    assert _sha(lab, "web", "/etc/ssh/sshd_config") == before, "plan must not change anything"


def test_audit_of_a_fresh_server_fails(lab: PrivateLab) -> None:
    (a,) = _audit(inv(lab), [lab.n(W)], lab.known_hosts)
    failing = {r.control.id for r in a.results if r.status == "fail"}
    assert {"SSH-01", "SSH-02", "FW-01", "PKG-01"} <= failing


def test_a_waived_deploy_user_control_refuses_allowgroups_naming_the_cause(lab: PrivateLab) -> None:
    """Issue 9 #3: ACC-01 (the deploy user in simpul-ssh) waived while SSH-07 (AllowGroups
    simpul-ssh) is on would lock the deploy user out; the plan already refuses it and says why."""
    # `inventory check` refuses this inventory (tests/unit/test_inventory_lockout.py); apply must
    # refuse it on its own too, so the inventory is changed in memory, past the loader
    base = inv(lab)
    waiver = Waiver(control="ACC-01", reason="akun deploy dikelola tim lain sementara",
                    approver="Kabid Infrastruktur", expires=date(2099, 12, 31))
    web = base.servers[lab.n(W)].model_copy(update={"hardening": Hardening(waivers=[waiver])})
    test_inv = base.model_copy(update={"servers": {**base.servers, lab.n(W): web}})
    (p,) = run_hosts(test_inv, [lab.n(W)], "plan", lab.known_hosts)
    assert p.status is Status.FAILED
    assert "AllowGroups simpul-ssh (SSH-07) would lock out the deploy user simpul" in p.message, p.message
    assert "ACC-01" in p.message and "sshd_config not applied" in p.message
    assert not [c for c in changes(p) if "sshd_config" in c["op"]]


def test_apply_then_second_apply_changes_nothing(lab: PrivateLab, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # through the command, as a NOC engineer runs it: one oplog record per host and run
    monkeypatch.setenv("SIMPUL_STATE_DIR", str(tmp_path))
    oplog = OpLog(tmp_path / "oplog.jsonl")
    args = ["-i", str(lab.inventory_dir), "--json", "harden", "apply", "--apply",
            "--known-hosts", str(lab.known_hosts)]
    assert main(args) == ExitCode.OK
    recs = list(oplog.records())
    assert [r["target"] for r in recs] and all(r["result"] == "changed" for r in recs), recs
    assert all(r["params"]["changed_ops"] > 20 for r in recs)
    assert main(args) == ExitCode.OK
    second = list(oplog.records())[2:]
    assert [(r["result"], r["params"]["changed_ops"], r["params"]["controls_changed"])
            for r in second] == [("ok", 0, [])] * 2
    recs = list(oplog.records())
    assert [r["action"] for r in recs] == ["harden.apply"] * 4 and oplog.verify().ok
    assert {r["target"] for r in recs} == {lab.n(W), lab.n(A)}
    assert all(_login_ok(lab, role) for role in ("web", "app"))


def test_audit_passes_every_applicable_control(lab: PrivateLab) -> None:
    audits = _audit(inv(lab), [lab.n(W), lab.n(A)], lab.known_hosts)
    for a in audits:
        assert a.reachable and not a.message, a.message
        fails = [(r.control.id, r.detail) for r in a.results if r.status == "fail"]
        assert not fails, (a.name, fails)
        assert a.score == 100
    web, app = audits
    na = {r.control.id for r in web.results if r.status == "na"}
    assert "LOG-03" in na and "AUD-03" in na  # web forwards, app (log host) receives; strict only
    assert {r.control.id for r in app.results if r.status == "na"} >= {"LOG-02"}
    kernel = next(r for r in web.results if r.control.id == "SYS-07")
    assert kernel.config_only and kernel.status == "unverified"  # not a pass, not in the score
    assert web.outside["auth_methods"] == ["publickey"] and web.outside["open_tcp"] == [22]


def test_logs_reach_the_log_host_through_both_firewalls(lab: PrivateLab) -> None:
    token = f"simpul-log-test-{time.time_ns()}"
    assert run(_t(lab, W), f"logger -p auth.notice {token}")[0] == 0
    deadline = time.monotonic() + 45  # rsyslog retries a suspended forward every 5 s
    while time.monotonic() < deadline:
        rc, _, _ = run(_t(lab, A), f"grep -q {token} /var/log/remote/{lab.n(W)}.log", sudo=True)
        if rc == 0:
            return
        time.sleep(2)
    pytest.fail("the web server's log line never reached the log host")


def test_hardening_survives_a_restart_of_the_servers(lab: PrivateLab) -> None:
    """Issue 9 #1: a reboot (new network namespace: no nftables table, no live sysctls, no
    daemons) brings every control back by itself, and a plan finds nothing to do."""
    for role in (W, A):
        lab.restart(role)
    audits = _audit(inv(lab), [lab.n(W), lab.n(A)], lab.known_hosts)
    for a in audits:
        fails = [(r.control.id, r.detail) for r in a.results if r.status == "fail"]
        assert a.reachable and not fails, (a.name, a.message, fails)
        res = {r.control.id: r for r in a.results}
        for cid in ("FW-01", "FW-03", "FW-04", "IPS-01", "LOG-01", "LOG-04", "SYS-01"):
            assert res[cid].status == "pass", (cid, res[cid].detail)
        assert "nftables /etc/rcS.d/S" in res["FW-04"].detail
        assert "at boot: /etc/rc2.d/S" in res["IPS-01"].detail
    plan = run_hosts(inv(lab), [lab.n(W), lab.n(A)], "plan", lab.known_hosts)
    assert [(r.status, changes(r)) for r in plan] == [(Status.OK, [])] * 2
    assert all(_login_ok(lab, role) for role in (W, A))


def test_breaking_one_control_fails_exactly_it_and_apply_repairs(lab: PrivateLab) -> None:
    t = _t(lab, "web")
    rc, _, err = run(t, "sed -i 's/^PasswordAuthentication no/PasswordAuthentication yes/; "
                        "s/^AuthenticationMethods publickey/AuthenticationMethods any/' /etc/ssh/sshd_config"
                        " && /usr/local/sbin/simpul-guard svc ssh reload", sudo=True)
    assert rc == 0, err
    _until("sshd back after its reload", lambda: run(t, "true")[0] == 0)
    audits = {a.name: a for a in _audit(inv(lab), [lab.n(W), lab.n(A)], lab.known_hosts)}
    web_fails = {r.control.id for r in audits[lab.n(W)].results if r.status == "fail"}
    assert web_fails == {"SSH-02"}, web_fails
    detail = next(r.detail for r in audits[lab.n(W)].results if r.control.id == "SSH-02")
    assert "passwordauthentication=yes" in detail and "outside: daemon offers" in detail
    assert "password" in audits[lab.n(W)].outside["auth_methods"]
    assert not [r for r in audits[lab.n(A)].results if r.status == "fail"]

    plan = {r.target: r for r in run_hosts(inv(lab), [lab.n(W), lab.n(A)], "plan", lab.known_hosts)}
    assert plan[lab.n(A)].status is Status.OK and not changes(plan[lab.n(A)])
    (drift,) = changes(plan[lab.n(W)])
    assert "SSH-02" in drift["controls"] and "-PasswordAuthentication yes" in drift["detail"]

    (fix,) = run_hosts(inv(lab), [lab.n(W)], "apply", lab.known_hosts)
    assert fix.status is Status.CHANGED and changed_ops(fix) >= 1, fix.message
    (again,) = _audit(inv(lab), [lab.n(W)], lab.known_hosts)
    assert not [r for r in again.results if r.status == "fail"]


def test_guard_refuses_an_sshd_config_that_does_not_validate(lab: PrivateLab) -> None:
    before = _sha(lab, "web", "/etc/ssh/sshd_config")
    (r,) = run_hosts(inv(lab), [lab.n(W)], "apply", lab.known_hosts,
                     overrides=Overrides(sshd_extra={"NoSuchOption": "yes"}))
    assert r.status is Status.FAILED
    assert "sshd_config" in r.message and "Bad configuration option" in r.message, r.message
    assert _sha(lab, "web", "/etc/ssh/sshd_config") == before
    assert _login_ok(lab, "web")


def test_guard_rolls_back_a_change_that_locks_out_the_deploy_user(lab: PrivateLab) -> None:
    before = _sha(lab, "web", "/etc/ssh/sshd_config")
    (r,) = run_hosts(inv(lab), [lab.n(W)], "apply", lab.known_hosts,
                     overrides=Overrides(sshd_extra={"AllowUsers": "nobody"}))
    assert r.status is Status.FAILED
    assert "fresh SSH login after the change failed" in r.message and "restored" in r.message, r.message
    # rolled back at once by the controller, not later by the timer (the guard logs why)
    assert "sshd rolled back (fresh-login-failed)" in _rollbacks(lab, W)
    assert _sha(lab, "web", "/etc/ssh/sshd_config") == before
    assert _login_ok(lab, "web")
    (p,) = run_hosts(inv(lab), [lab.n(W)], "plan", lab.known_hosts)
    assert p.status is Status.OK, changes(p)


def test_guard_timer_reverts_an_unconfirmed_change(lab: PrivateLab) -> None:
    """The controller vanished after activation: the host reverts by itself."""
    t = _t(lab, "web")
    listing_before = run(t, "nft list table inet simpul", sudo=True)[1]
    cand = "/var/lib/simpul-guard/staging/nft-test"
    rules = ("table inet simpul {}\ndelete table inet simpul\ntable inet simpul {\n"
             "\tchain input { type filter hook input priority filter; policy accept; }\n}\n")
    rc, _, err = run(t, f"mkdir -p /var/lib/simpul-guard/staging && printf '%s' '{rules}' > {cand} && "
                        f"cp /etc/nftables.d/simpul.nft /tmp/simpul.nft.keep && "
                        f"/usr/local/sbin/simpul-guard apply nft 3 'nft -c -f {{}}' "
                        f"'nft -f /etc/nftables.d/simpul.nft' /etc/nftables.d/simpul.nft {cand}", sudo=True)
    assert rc == 0, err
    assert "policy accept" in run(t, "nft list table inet simpul", sudo=True)[1]
    _until("the guard's timer reverts", lambda: run(t, "nft list table inet simpul", sudo=True)[1] == listing_before)
    assert run(t, "cmp /etc/nftables.d/simpul.nft /tmp/simpul.nft.keep", sudo=True)[0] == 0
    assert "nft rolled back (timeout)" in _rollbacks(lab, W)


def test_guard_reverts_at_boot_a_change_left_unconfirmed(lab: PrivateLab) -> None:
    """Issue 9 #16: the server goes down inside the confirm window (the timer dies with it): the
    boot rolls the change back before the services start."""
    t = _t(lab, W)
    listing_before = run(t, "nft list table inet simpul", sudo=True)[1]
    cand = "/var/lib/simpul-guard/staging/nft-boot"
    rules = ("table inet simpul {}\ndelete table inet simpul\ntable inet simpul {\n"
             "\tchain input { type filter hook input priority filter; policy accept; }\n}\n")
    rc, _, err = run(t, f"mkdir -p /var/lib/simpul-guard/staging && printf '%s' '{rules}' > {cand} && "
                        f"cp /etc/nftables.d/simpul.nft /tmp/simpul.nft.keep && "
                        f"/usr/local/sbin/simpul-guard apply nft 600 'nft -c -f {{}}' "
                        f"'nft -f /etc/nftables.d/simpul.nft' /etc/nftables.d/simpul.nft {cand}", sudo=True)
    assert rc == 0, err
    assert "policy accept" in run(t, "nft list table inet simpul", sudo=True)[1]
    lab.restart(W)  # well inside the 600 s window
    assert run(t, "nft list table inet simpul", sudo=True)[1] == listing_before
    assert run(t, "cmp /etc/nftables.d/simpul.nft /tmp/simpul.nft.keep && "
                  "test ! -e /var/lib/simpul-guard/nft/pending", sudo=True)[0] == 0
    assert "nft rolled back (unconfirmed when the server went down; restored at boot)" in _rollbacks(lab, W)
    assert _login_ok(lab, W)


def test_firewall_is_refused_when_the_session_is_outside_the_noc(lab: PrivateLab) -> None:
    """Issue 9 #2: the wrong noc_ranges refuse the firewall *and* fail2ban (whose ignoreip comes
    from the same ranges: applying it would let the NOC be banned)."""
    t = _t(lab, A)
    before = run(t, "nft list table inet simpul", sudo=True)[1]
    jail = _sha(lab, A, "/etc/fail2ban/jail.local")
    # the inventory's NOC ranges miss the management LAN the NOC actually uses (`inventory
    # check` reports this one; apply must refuse it on its own too: changed in memory)
    base = inv(lab)
    org = base.organisation.model_copy(update={"noc_ranges": [IPv4Network("10.99.0.0/16")]})
    (r,) = run_hosts(base.model_copy(update={"organisation": org}), [lab.n(A)], "apply", lab.known_hosts)
    assert r.status is Status.FAILED and "would lock the NOC out" in r.message
    assert "firewall not applied" in r.message and "fail2ban not applied" in r.message, r.message
    assert run(t, "nft list table inet simpul", sudo=True)[1] == before
    assert _sha(lab, A, "/etc/fail2ban/jail.local") == jail
    ignore = run(t, "fail2ban-client get sshd ignoreip", sudo=True)[1]
    assert "169.254.198.0/24" in ignore and "10.99.0.0/16" not in ignore, ignore
    assert _login_ok(lab, "app")


def test_waivers_turn_a_control_off_until_they_expire(lab: PrivateLab) -> None:
    lab.write_inventory({W: {"profile": "baseline", "waivers": [
        {"control": "SSH-03", "reason": "aplikasi kiosk lama mencoba banyak kunci", "approver": "Kabid Infrastruktur",
         "expires": "2099-12-31"},
        {"control": "SSH-09", "reason": "log verbose terlalu besar untuk disk lama", "approver": "Kabid Infrastruktur",
         "expires": "2020-01-01"}]}})
    try:
        (p,) = run_hosts(inv(lab), [lab.n(W)], "plan", lab.known_hosts)
        (ch,) = changes(p)
        assert "-MaxAuthTries 3" in ch["detail"] and "LogLevel VERBOSE" not in ch["detail"]
        (ap,) = run_hosts(inv(lab), [lab.n(W)], "apply", lab.known_hosts)
        assert ap.status is Status.CHANGED, ap.message
        (a,) = _audit(inv(lab), [lab.n(W)], lab.known_hosts)
        res = {r.control.id: r for r in a.results}
        assert res["SSH-03"].status == "waived" and "Kabid Infrastruktur" in res["SSH-03"].detail
        assert "currently fails" in res["SSH-03"].detail
        assert res["SSH-09"].status == "pass" and "expired on 2020-01-01" in res["SSH-09"].detail
        assert not [r for r in a.results if r.status == "fail"]
    finally:
        lab.write_inventory()
    (back,) = run_hosts(inv(lab), [lab.n(W)], "apply", lab.known_hosts)
    assert back.status is Status.CHANGED and _login_ok(lab, W)


def test_per_host_failures_do_not_stop_the_others(lab: PrivateLab) -> None:
    t = _t(lab, "app")
    pub = lab.key.with_suffix(".pub").read_text().strip()
    rc, _, err = run(t, "id nosudo >/dev/null 2>&1 || useradd -m -G simpul-ssh -s /bin/bash nosudo; "
                        "usermod -p '*' nosudo; mkdir -p ~nosudo/.ssh && "
                        f"echo '{pub}' > ~nosudo/.ssh/authorized_keys && chown -R nosudo: ~nosudo/.ssh",
                     sudo=True)
    assert rc == 0, err
    other_key = lab.base / "secrets" / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    # aliases of the app server with other credentials, and a server that does not exist (the
    # loader would reject duplicate addresses, so the inventory is extended in memory)
    base = inv(lab)
    app = base.servers[lab.n(A)]
    nosudo, wrongkey, gone = lab.n("nosudo"), lab.n("wrongkey"), lab.n("gone")
    servers = dict(base.servers) | {
        nosudo: app.model_copy(update={"ssh": SshAccess(user="nosudo", key="sthard-key")}),
        wrongkey: app.model_copy(update={"ssh": SshAccess(user="simpul", key="other")}),
        # an unused address on this lab's own management LAN: never routed off the machine
        gone: app.model_copy(update={"mgmt_ip": IPv4Address(f"169.254.198.{32 * (lab.slot or 0) + 30}")}),
    }
    secrets = dict(base.secrets) | {"other": Secret(file=other_key)}
    test_inv = base.model_copy(update={"servers": servers, "secrets": secrets})
    # the aliases share app's address, so the pinned host keys of app apply to them too
    names = [lab.n(W), nosudo, wrongkey, gone]
    runs = {r.target: r for r in run_hosts(test_inv, names, "apply", lab.known_hosts)}
    assert runs[lab.n(W)].status is Status.OK
    assert runs[nosudo].status is Status.FAILED
    assert "sudo asks nosudo for a password" in runs[nosudo].message
    assert runs[wrongkey].status is Status.UNREACHABLE
    assert "authentication failed" in runs[wrongkey].message
    assert runs[gone].status is Status.UNREACHABLE
    assert re.search(r"cannot connect|timed out|unreachable", runs[gone].message)
    assert exit_code_for(list(runs.values())) == ExitCode.PARTIAL


def test_apt_failure_fails_only_that_host(lab: PrivateLab) -> None:
    t = _t(lab, A)
    # a required package goes missing, and apt is busy: apply must fail that host with apt's
    # own message, do the other host, and repair it on the next run
    rc, out, err = run(t, "dpkg -r --force-depends unattended-upgrades >/dev/null 2>&1; "
                          # apt locks with fcntl(2), so hold the lock the same way
                          "rm -f /run/simpul-test-lock-held; "
                          "nohup python3 -c \"import fcntl, time; f = open('/var/lib/dpkg/lock-frontend', 'w'); "
                          "fcntl.lockf(f, fcntl.LOCK_EX); open('/run/simpul-test-lock-held', 'w').close(); "
                          "time.sleep(300)\" >/dev/null 2>&1 & echo $!",
                       sudo=True)
    assert rc == 0, err
    holder = out.strip().splitlines()[-1]
    try:
        _until("the dpkg lock is held", lambda: run(t, "test -e /run/simpul-test-lock-held", sudo=True)[0] == 0)
        runs = {r.target: r for r in run_hosts(inv(lab), [lab.n(W), lab.n(A)], "apply", lab.known_hosts)}
        assert runs[lab.n(W)].status is Status.OK
        assert runs[lab.n(A)].status is Status.FAILED
        assert "Install the security packages" in runs[lab.n(A)].message
        assert "lock" in runs[lab.n(A)].message.lower(), runs[lab.n(A)].message
    finally:
        run(t, f"kill {holder}", sudo=True)  # the flock we started, by its PID
    _until("the lock holder is gone", lambda: run(t, f"kill -0 {holder}", sudo=True)[0] != 0)
    (fixed,) = run_hosts(inv(lab), [lab.n(A)], "apply", lab.known_hosts)
    assert fixed.status is Status.CHANGED, fixed.message
    assert run(t, "dpkg-query -W -f='${Status}' unattended-upgrades", sudo=True)[1] == "install ok installed"
