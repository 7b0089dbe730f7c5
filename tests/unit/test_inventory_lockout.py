"""``simpul inventory check`` reports the lock-outs the inventory alone guarantees (issue 9 #3),
with file and line (through the hardening domain's inventory-check hook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.cli import main
from simpul.deploys import catalog
from simpul.deploys import inventory_checks as inv_lockout
from simpul.deploys.families.ssh import SSHD_EXPECT
from simpul.inventory import load_inventory
from simpul.inventory.loader import InventoryInvalid

REPO = Path(__file__).resolve().parents[2]


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(directory)
    return [str(p) for p in ei.value.problems]


def line_of(path: Path, needle: str) -> int:
    return next(n for n, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def test_the_shipped_inventories_have_no_lock_out() -> None:
    load_inventory(REPO / "inventory" / "lab")
    load_inventory(REPO / "inventory" / "contoh-kabupaten")  # NOC /24 inside the management /16


def test_noc_ranges_that_miss_every_server_and_the_management_plan(lab_copy: Path) -> None:
    f = lab_copy / "organisation.yaml"
    f.write_text(f.read_text().replace("noc_ranges: [169.254.100.0/24]", "noc_ranges: [10.99.0.0/16]"))
    (p,) = problems_of(lab_copy)
    assert p.startswith(f"inv/organisation.yaml:{line_of(f, 'noc_ranges')} organisation.noc_ranges: "
                        "10.99.0.0/16 contains no server's management address and none overlaps the "
                        "management supernet 169.254.100.0/24"), p
    assert "FW-03" in p and "IPS-01" in p


def test_a_noc_range_holding_one_server_address_is_enough(lab_copy: Path) -> None:
    f = lab_copy / "organisation.yaml"
    text = f.read_text().replace("noc_ranges: [169.254.100.0/24]", "noc_ranges: [169.254.100.51/32]")
    f.write_text(text.replace("management: 169.254.100.0/24", "management: 169.254.100.0/24"))
    load_inventory(lab_copy)


def test_root_as_deploy_user_while_root_login_is_refused(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    f.write_text(f.read_text().replace("role: backup, mgmt_ip: 169.254.100.62,",
                                       "role: backup, mgmt_ip: 169.254.100.62, ssh: {user: root, key: lab-deploy-key},"))
    (p,) = problems_of(lab_copy)
    assert p.startswith(f"inv/servers.yaml:{line_of(f, 'user: root')} servers.drc-backup.ssh.user: the deploy "
                        "user is root while SSH-01 (PermitRootLogin no) is on"), p
    # waived: root may log in, no lock-out
    f.write_text(f.read_text().replace(
        "ssh: {user: root, key: lab-deploy-key},",
        "ssh: {user: root, key: lab-deploy-key}, hardening: {waivers: [{control: SSH-01, "
        "reason: akses darurat vendor lama, approver: Kabid Infrastruktur, expires: 2099-12-31}]},"))
    load_inventory(lab_copy)


def test_waiving_the_deploy_user_control_while_allowgroups_is_on(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    waiver = ("hardening: {waivers: [{control: ACC-01, reason: akun deploy dikelola tim lain, "
              "approver: Kabid Infrastruktur, expires: 2099-12-31}]},")
    f.write_text(f.read_text().replace("role: backup, mgmt_ip: 169.254.100.62,",
                                       f"role: backup, mgmt_ip: 169.254.100.62, {waiver}"))
    (p,) = problems_of(lab_copy)
    assert p.startswith(f"inv/servers.yaml:{line_of(f, 'ACC-01')} servers.drc-backup.hardening.waivers[0]: "
                        "waiving ACC-01 (the deploy user simpul in simpul-ssh) while SSH-07"), p
    # an expired waiver does not count; SSH-07 waived as well: no lock-out
    f.write_text(f.read_text().replace("expires: 2099-12-31}]},", "expires: 2020-01-01}]},"))
    load_inventory(lab_copy)
    f.write_text(f.read_text().replace(
        "expires: 2020-01-01}]},", "expires: 2099-12-31}, {control: SSH-07, reason: akun deploy dikelola "
        "tim lain, approver: Kabid Infrastruktur, expires: 2099-12-31}]},"))
    load_inventory(lab_copy)


def test_inventory_check_command_reports_all_of_them(lab_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    o = lab_copy / "organisation.yaml"
    o.write_text(o.read_text().replace("noc_ranges: [169.254.100.0/24]", "noc_ranges: [10.99.0.0/16]"))
    s = lab_copy / "servers.yaml"
    s.write_text(s.read_text().replace("role: backup, mgmt_ip: 169.254.100.62,",
                                       "role: backup, mgmt_ip: 169.254.100.62, ssh: {user: root, key: lab-deploy-key},"))
    assert main(["-i", str(lab_copy), "inventory", "check"]) == 3
    cap = capsys.readouterr()
    err = cap.out + cap.err
    assert "organisation.noc_ranges" in err and "servers.drc-backup.ssh.user" in err


def test_the_controls_the_lockout_rules_name_mean_what_the_rules_assume() -> None:
    by = catalog.BY_ID
    assert SSHD_EXPECT[inv_lockout.ROOT_LOGIN] == {"permitrootlogin": "no"}
    assert SSHD_EXPECT[inv_lockout.ALLOW_GROUPS] == {"allowgroups": "simpul-ssh"}
    assert "Deploy account" in by[inv_lockout.DEPLOY_USER].title_en and "simpul-ssh" in by["ACC-01"].rationale_en
    assert "NOC" in by["FW-03"].title_en and inv_lockout.NOC_ONLY == ("FW-03", "IPS-01")
    assert all(by[c].profile == "baseline" for c in inv_lockout.BASELINE)
