"""Catalog integrity, waivers, per-host decisions, renderers and the ad-hoc allow-list."""

from __future__ import annotations

import re
from datetime import date
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from simpul.deploys import catalog
from simpul.deploys.adhoc import is_read_only
from simpul.deploys.checks import CHECKS
from simpul.deploys.families import firewall, ips, kernel, logs, pam, ssh
from simpul.deploys.hostvars import HostVars, decide, host_vars, parse_service, waiver_for
from simpul.errors import ConfigError
from simpul.inventory import load_inventory
from simpul.inventory.models import Waiver

DEPLOYS = Path(__file__).resolve().parents[2] / "deploys"


def test_every_control_is_complete() -> None:
    ids = [c.id for c in catalog.CONTROLS]
    assert len(ids) == len(set(ids)), "duplicate control IDs"
    for c in catalog.CONTROLS:
        assert re.fullmatch(r"[A-Z]{2,5}-\d{2}", c.id), c.id
        assert c.title_id and c.title_en and c.rationale_id and c.rationale_en, c.id
        assert c.refs, f"{c.id} has no references"
        # every control traces to a seed regulation article
        assert any(r.startswith(("Pergub", "Perbup")) for r in c.refs), c.id
        assert any(r.startswith("ISO/IEC 27001:2022 Annex A") for r in c.refs), c.id
        assert c.id in CHECKS, f"{c.id} has no read-only check"
        assert c.profile in ("baseline", "strict")


def _code_strings(path: Path) -> set[str]:
    """String constants in code (docstrings and comments do not count)."""
    import ast

    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs}


def test_every_changeable_control_has_a_named_pyinfra_operation() -> None:
    module = {"ssh": "ssh", "accounts": "accounts", "pam": "pam", "kernel": "kernel", "firewall": "firewall",
              "logging": "logs", "audit": "auditd", "time": "timesync", "ips": "ips", "software": "software",
              "files": "files"}
    for c in catalog.CONTROLS:
        if c.scope == "audit-only":
            assert not c.change and c.note, f"{c.id}: audit-only controls say why"
            continue
        assert c.change in module, c.id
        # the family's deploy names the ID in code: name(["SSH-01", ...]), ctx.on("SSH-01", ...) or
        # a table its operations are made from (FILE_MODES, sysctls)
        path = DEPLOYS / "families" / f"{module[c.change]}.py"
        assert c.id in _code_strings(path), f"{c.id}: no operation in {path.name} names it"


def test_checks_cover_only_known_controls() -> None:
    assert set(CHECKS) == set(catalog.BY_ID)


def _hv(**kw: object) -> HostVars:
    base = dict(name="pd-web", mgmt_ip=IPv4Address("169.254.100.51"), ssh_user="simpul", ssh_port=22,
                ssh_key="k", become=True, profile="baseline", ip_forward=False,
                ports=parse_service("ssh") + parse_service("https") + parse_service("snmp"),
                noc_ranges=(IPv4Network("169.254.100.0/24"),), ntp_servers=("169.254.100.1",),
                log_host="pd-app", log_host_ip=IPv4Address("169.254.100.52"),
                organisation="Dinas Kominfo Uji", waivers=())
    base.update(kw)
    return HostVars(**base)  # type: ignore[arg-type]


def _w(cid: str, expires: date) -> Waiver:
    return Waiver(control=cid, reason="aplikasi lama butuh ini sementara", approver="Kepala Bidang",
                  expires=expires)


def test_waiver_counts_until_its_expiry_date_inclusive() -> None:
    w = _w("SSH-03", date(2026, 6, 30))
    assert waiver_for([w], "SSH-03", date(2026, 6, 30))[0] is w
    got, note = waiver_for([w], "SSH-03", date(2026, 7, 1))
    assert got is None and "expired on 2026-06-30" in note


def test_expired_waiver_makes_the_control_count_again() -> None:
    hv = _hv(waivers=(_w("SSH-03", date(2026, 1, 1)), _w("FW-02", date(2030, 1, 1))))
    d = decide(hv, date(2026, 5, 1))
    assert d["SSH-03"].state == "apply" and "expired" in d["SSH-03"].reason
    assert d["FW-02"].state == "waived" and "Kepala Bidang" in d["FW-02"].reason


def test_unknown_waiver_control_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="XYZ-01"):
        decide(_hv(waivers=(_w("XYZ-01", date(2030, 1, 1)),)), date(2026, 1, 1))


def test_decisions_per_host() -> None:
    d = decide(_hv(), date(2026, 1, 1))
    assert d["AUD-03"].state == "na" and "strict" in d["AUD-03"].reason
    assert d["LOG-02"].state == "apply" and d["LOG-03"].state == "na"
    router = decide(_hv(ip_forward=True), date(2026, 1, 1))
    assert router["SYS-06"].state == "na" and "ip_forward" in router["SYS-06"].reason
    loghost = decide(_hv(name="pd-app"), date(2026, 1, 1))
    assert loghost["LOG-02"].state == "na" and loghost["LOG-03"].state == "apply"
    assert all(x.state == "na" for x in decide(_hv(profile="none"), date(2026, 1, 1)).values())
    assert decide(_hv(profile="strict"), date(2026, 1, 1))["AUD-03"].state == "apply"


def test_host_vars_from_the_lab_inventory() -> None:
    inv = load_inventory(Path(__file__).resolve().parents[2] / "inventory" / "lab")
    hv = host_vars(inv, "pd-web")
    assert ("ssh", 22, "tcp", True) in {(p.service, p.port, p.proto, p.management) for p in hv.ports}
    assert {p.port for p in hv.ports if not p.management} == {80, 443}
    assert hv.log_host == "pd-app" and str(hv.log_host_ip) == "169.254.100.52"


def test_service_with_explicit_port_and_unknown_service() -> None:
    assert parse_service("http/8080")[0].port == 8080
    with pytest.raises(ConfigError, match="no known port"):
        parse_service("gopher")


# --- renderers -----------------------------------------------------------------------------

def test_sshd_config_keeps_paramiko_working_and_drops_weak_crypto() -> None:
    text = ssh.sshd_config(_hv(), ["/etc/ssh/ssh_host_ed25519_key"])
    kex = re.search(r"^KexAlgorithms (.*)$", text, re.M).group(1).split(",")  # type: ignore[union-attr]
    ciphers = re.search(r"^Ciphers (.*)$", text, re.M).group(1).split(",")  # type: ignore[union-attr]
    macs = re.search(r"^MACs (.*)$", text, re.M).group(1).split(",")  # type: ignore[union-attr]
    # paramiko 4 cannot do chacha20-only nor RFC curve25519-sha256-only (LAB-FACTS)
    assert "curve25519-sha256@libssh.org" in kex
    assert {"aes256-gcm@openssh.com", "aes128-ctr"} <= set(ciphers)
    assert "hmac-sha2-256-etm@openssh.com" in macs
    assert not set(kex) & set(ssh.WEAK_KEX) and not set(ciphers) & set(ssh.WEAK_CIPHERS)
    assert not set(macs) & set(ssh.WEAK_MACS)
    for line in ("PermitRootLogin no", "PasswordAuthentication no", "MaxAuthTries 3",
                 "AllowGroups simpul-ssh", "Banner /etc/issue.net", "HostKey /etc/ssh/ssh_host_ed25519_key"):
        assert f"\n{line}\n" in text
    assert "Include" not in text and "MaxSessions 4" in text


def test_sshd_config_waived_control_is_left_at_the_default() -> None:
    text = ssh.sshd_config(_hv(), [], waived=["SSH-03"])
    assert "MaxAuthTries" not in text and "# SSH-03: waived" in text


def test_nft_ruleset_owns_one_table_and_limits_management() -> None:
    text = firewall.nft_ruleset(_hv())
    assert "flush ruleset" not in text
    assert text.count("table inet simpul") == 3  # create-if-missing, delete, define
    assert "policy drop;" in text
    assert 'ip saddr @noc_v4 tcp dport 22 accept' in text
    assert 'ip saddr @noc_v4 udp dport 161 accept' in text
    assert '\t\ttcp dport 443 accept comment "https | FW-02"' in text
    assert "elements = { 169.254.100.0/24 }" in text
    assert "chain forward {\n\t\ttype filter hook forward priority filter; policy drop;" in text
    assert "policy accept" in firewall.nft_ruleset(_hv(ip_forward=True))


def test_sysctls_respect_ip_forward_exception_and_scope() -> None:
    all_ids = [c.id for c in catalog.CONTROLS]
    vals = kernel.sysctls(_hv(), all_ids)
    assert vals["net.ipv4.ip_forward"] == ("0", "SYS-06")
    assert "net.ipv4.ip_forward" not in kernel.sysctls(_hv(), [i for i in all_ids if i != "SYS-06"])
    assert kernel.is_live_key("net.ipv4.conf.all.rp_filter")
    assert not kernel.is_live_key("kernel.kptr_restrict") and not kernel.is_live_key("net.core.bpf_jit_harden")


def test_set_keys_is_idempotent_and_keeps_comments() -> None:
    src = "# comment\nPASS_MAX_DAYS\t99999\nUMASK\t\t022\nUMASK 077\n"
    once = pam.set_keys(src, {"PASS_MAX_DAYS": "365", "UMASK": "027", "PASS_MIN_DAYS": "1"})
    assert pam.set_keys(once, {"PASS_MAX_DAYS": "365", "UMASK": "027", "PASS_MIN_DAYS": "1"}) == once
    assert "# comment" in once and "PASS_MAX_DAYS\t365" in once and "PASS_MIN_DAYS\t1" in once
    assert once.count("\nUMASK\t027") == 1 and "# UMASK 077" in once


def test_rsyslog_forwarding_only_where_applicable() -> None:
    fwd = logs.rsyslog_conf(_hv(), ["LOG-02", "LOG-04"])
    assert 'target="169.254.100.52" port="514" protocol="tcp"' in fwd
    recv = logs.rsyslog_conf(_hv(name="pd-app"), ["LOG-03", "LOG-04"])
    assert "imtcp" in recv and "omfwd" not in recv


def test_fail2ban_never_bans_the_noc_and_works_without_systemd() -> None:
    jail = ips.fail2ban_jail(_hv(), "sysvinit")
    assert "169.254.100.0/24" in jail and "backend = polling" in jail and "logpath" in jail
    assert "backend = systemd" in ips.fail2ban_jail(_hv(), "systemd")


def test_banner_is_bilingual() -> None:
    b = ssh.banner(_hv())
    assert b.startswith("PERINGATAN") and "WARNING" in b and "Dinas Kominfo Uji" in b


# --- ad-hoc runs ---------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["uptime", "df -h", "ip addr", "nft list ruleset", "sudo ss -tlnp",
                                 "systemctl status ssh", "cat /etc/os-release"])
def test_read_only_commands_run_without_apply(cmd: str) -> None:
    assert is_read_only(cmd)[0], cmd


@pytest.mark.parametrize("cmd", ["rm -rf /tmp/x", "uptime; reboot", "cat /etc/passwd > /tmp/x",
                                 "ip link set eth0 down", "nft flush ruleset", "echo $(id)",
                                 "systemctl restart ssh", "sudo -u postgres psql", "apt-get install x"])
def test_state_changing_commands_need_apply(cmd: str) -> None:
    ok, why = is_read_only(cmd)
    assert not ok and why


def test_operation_names_carry_control_ids() -> None:
    from simpul.deploys.ops import _controls

    assert _controls("SSH | sshd_config (sshd -t, reload) | SSH-01, SSH-02") == ["SSH-01", "SSH-02"]
    assert _controls("Lock-out guard | Install the lock-out guard helper") == []
    assert catalog.op_name("FW-01", "Load nftables") == "Load nftables | FW-01"
    with pytest.raises(KeyError, match="XX-99"):
        catalog.op_name("XX-99", "typo")
