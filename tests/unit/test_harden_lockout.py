"""Lock-out pre-checks (issue 9 #2, #3): every lock-out-prone change is decided by the same
pre-check before any is applied; a refusal names its cause and stops the changes that depend on
it (the lab proves the same against real servers in tests/lab/test_harden_lab.py)."""

from __future__ import annotations

from datetime import date
from ipaddress import IPv4Address, IPv4Network

from simpul.deploys import lockout
from simpul.deploys.catalog import CONTROLS
from simpul.deploys.hostvars import HostVars, decide, parse_service
from simpul.inventory.models import Waiver

NOC = (IPv4Network("169.254.100.0/24"),)


def _hv(**kw: object) -> HostVars:
    base = dict(name="pd-web", mgmt_ip=IPv4Address("169.254.100.51"), ssh_user="simpul", ssh_port=22,
                ssh_key="k", become=True, profile="baseline", ip_forward=False,
                ports=parse_service("ssh"), noc_ranges=NOC, ntp_servers=(), log_host=None,
                log_host_ip=None, organisation="Dinas Kominfo Uji", waivers=())
    base.update(kw)
    return HostVars(**base)  # type: ignore[arg-type]


def _waive(*ids: str) -> tuple[Waiver, ...]:
    return tuple(Waiver(control=i, reason="alasan yang cukup panjang", approver="Kabid", expires=date(2099, 1, 1))
                 for i in ids)


def _pre(hv: HostVars, client: str = "169.254.100.1", groups: frozenset[str] | None = None) -> dict[str, str]:
    d = decide(hv, date(2026, 1, 1))
    return lockout.prechecks(hv, lambda c: d[c].active, lockout.Session(client, groups))


def test_inside_the_noc_nothing_is_refused() -> None:
    assert _pre(_hv()) == {}


def test_outside_the_noc_the_firewall_and_fail2ban_are_both_refused() -> None:
    got = _pre(_hv(), client="10.9.9.9")
    assert set(got) == {"nft", "fail2ban"}
    for unit in ("nft", "fail2ban"):
        assert "10.9.9.9, outside organisation.noc_ranges (169.254.100.0/24)" in got[unit]
        assert "would lock the NOC out" in got[unit]
    assert "ignoreip" in got["fail2ban"]
    assert set(_pre(_hv(), client="")) == {"nft", "fail2ban"}  # unknown source: refuse
    assert set(_pre(_hv(), client="fe80::1")) == {"nft", "fail2ban"}  # management is IPv4


def test_fail2ban_alone_is_refused_when_the_firewall_is_waived() -> None:
    assert set(_pre(_hv(waivers=_waive("FW-01", "FW-02", "FW-03")), client="10.9.9.9")) == {"fail2ban"}
    assert _pre(_hv(waivers=_waive("IPS-01", "FW-01", "FW-02", "FW-03")), client="10.9.9.9") == {}


def test_a_refused_unit_stops_the_units_that_depend_on_it() -> None:
    """Whatever refuses the firewall also refuses fail2ban (DEPENDS), naming the firewall."""
    got = lockout.with_dependents({"nft": "firewall not applied: X"}, lambda unit: True)
    assert got["fail2ban"] == ("fail2ban not applied: it depends on the firewall, which was refused "
                               "(firewall not applied: X)")
    assert set(got) == {"nft", "fail2ban"}
    assert lockout.with_dependents({"nft": "X"}, lambda unit: unit != "fail2ban") == {"nft": "X"}
    assert lockout.with_dependents({"sshd": "Y"}, lambda unit: True) == {"sshd": "Y"}


def test_allowgroups_with_acc01_waived_refuses_sshd_when_the_deploy_user_is_outside_the_group() -> None:
    hv = _hv(waivers=_waive("ACC-01"))
    d = decide(hv, date(2026, 1, 1))
    assert lockout.needs_groups(hv, lambda c: d[c].active)
    got = _pre(hv, groups=frozenset({"simpul", "sudo"}))
    assert set(got) == {"sshd"}
    assert "AllowGroups simpul-ssh (SSH-07) would lock out the deploy user simpul" in got["sshd"]
    assert "remove the ACC-01 waiver, or waive SSH-07 as well" in got["sshd"]
    assert _pre(hv, groups=frozenset({"simpul", "simpul-ssh"})) == {}  # already in the group
    assert _pre(_hv(waivers=_waive("ACC-01", "SSH-07")), groups=frozenset()) == {}
    assert not lockout.needs_groups(_hv(), lambda c: True)  # ACC-01 on: it adds the user


def test_root_as_deploy_user_with_root_login_off_refuses_sshd() -> None:
    got = _pre(_hv(ssh_user="root"))
    assert set(got) == {"sshd"} and "PermitRootLogin no (SSH-01) would lock out the deploy user root" in got["sshd"]
    assert "servers.pd-web.ssh.user" in got["sshd"]
    assert _pre(_hv(ssh_user="root", waivers=_waive("SSH-01"))) == {}


def test_profile_none_refuses_nothing() -> None:
    assert _pre(_hv(profile="none", ssh_user="root"), client="10.9.9.9") == {}


def test_units_name_real_controls() -> None:
    ids = {c.id for c in CONTROLS}
    for unit, controls in lockout.UNITS.items():
        assert set(controls) <= ids, unit
    for unit, deps in lockout.DEPENDS.items():
        assert unit in lockout.UNITS and set(deps) <= set(lockout.UNITS)
