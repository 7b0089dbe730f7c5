"""The inventory loader: valid inventories load; every kind of mistake is reported with
file, line and key path — all at once, never as a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.errors import ConfigError, UsageError
from simpul.inventory import InventoryInvalid, load_inventory, select

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventory" / "lab"
CONTOH = REPO / "inventory" / "contoh-kabupaten"


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(directory)
    return [str(p) for p in ei.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_shipped_inventories_are_valid() -> None:
    lab = load_inventory(LAB)
    assert len(lab.devices) >= 9 and len(lab.servers) >= 5
    contoh = load_inventory(CONTOH)
    assert 300 <= len(contoh.devices) <= 360
    assert len([s for s in contoh.sites.values() if s.type == "opd"]) >= 35
    assert len([s for s in contoh.sites.values() if s.type in ("desa", "kelurahan")]) >= 260
    assert len(contoh.servers) >= 30


def test_inheritance_defaults_then_groups_then_host() -> None:
    inv = load_inventory(CONTOH)
    desa = next(d for n, d in inv.devices.items() if n.startswith("r-"))
    # group desa-mikrotik overrides the v3 default with v2c
    assert desa.platform == "mikrotik_routeros" and desa.role == "desa-edge"
    assert desa.snmp is not None and desa.snmp.version == "2c" and desa.snmp.community == "snmp-ro"
    core = inv.devices["core-pd-1"]
    assert core.credential == "router-core"  # group beats defaults
    assert core.snmp is not None and core.snmp.version == "3"
    lab = load_inventory(LAB)
    assert lab.devices["core-1"].role == "core"  # host key beats nothing; group has no role
    assert lab.devices["desa-kemloko"].role == "desa-edge"


def test_typo_key_reported_with_file_line_and_path(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "    role: db\n", "    rol: db\n")
    probs = problems_of(lab_copy)
    line = line_of(f, "rol: db")
    assert any(p.startswith(f"inv/servers.yaml:{line} servers.pd-db.rol: unknown key") for p in probs), probs
    assert any("servers.pd-db.role: required key is missing" in p for p in probs), probs


def test_unknown_site_duplicate_address_outside_plan_all_at_once(lab_copy: Path) -> None:
    f = lab_copy / "devices.yaml"
    edit(f, "opd-dinkes: {site: dinkes,", "opd-dinkes: {site: dinkez,")
    edit(f, "mgmt_ip: 169.254.100.22", "mgmt_ip: 169.254.100.21")
    edit(f, "mgmt_ip: 169.254.100.23", "mgmt_ip: 169.254.200.23")
    probs = problems_of(lab_copy)
    text = "\n".join(probs)
    assert f"inv/devices.yaml:{line_of(f, 'dinkez')} devices.opd-dinkes.site: unknown site 'dinkez'" in text
    assert "devices.opd-disdik.mgmt_ip: 169.254.100.21 is already used by device opd-dinkes" in text
    assert "devices.opd-bappeda.mgmt_ip: 169.254.200.23 is not in the management 169.254.100.0/24" in text
    assert len(probs) == 3


def test_inline_secret_is_refused(lab_copy: Path) -> None:
    f = lab_copy / "devices.yaml"
    edit(f, "    role: core\n", "    role: core\n    password: rahasia123\n")
    edit(lab_copy / "organisation.yaml", "credential: lab-router-password", "credential: 'P@ssw0rd!'")
    probs = "\n".join(problems_of(lab_copy))
    assert (
        f"inv/devices.yaml:{line_of(f, 'password:')} devices.core-1.password: looks like a secret written inline"
        in probs
    )
    assert "credential: must be the name of an entry under secrets:" in probs
    assert "rahasia123" not in probs and "P@ssw0rd" not in probs  # never echo the secret


def test_unknown_secret_group_and_policy(lab_copy: Path) -> None:
    edit(lab_copy / "organisation.yaml", "credential: lab-router-password", "credential: no-such-secret")
    edit(lab_copy / "servers.yaml", "backup: [simpeg-db]", "backup: [nope]")
    edit(lab_copy / "devices.yaml", "groups: [frr-routers, desa-edge]", "groups: [frr-routers, desa-edgy]")
    probs = "\n".join(problems_of(lab_copy))
    assert "unknown secret 'no-such-secret'" in probs
    assert "servers.pd-db.backup[0]: unknown backup policy 'nope'" in probs
    assert "groups[1]: unknown group 'desa-edgy'" in probs


def test_invalid_yaml_names_file_and_line(lab_copy: Path) -> None:
    f = lab_copy / "sites.yaml"
    f.write_text(f.read_text() + "  broken: {type: opd, name: [unclosed\n")
    probs = problems_of(lab_copy)
    assert any(p.startswith("inv/sites.yaml:") and "invalid YAML" in p for p in probs), probs


def test_duplicate_key_and_duplicate_name_across_files(lab_copy: Path) -> None:
    f = lab_copy / "sites.yaml"
    edit(f, "  noc: {type: noc,", "  dinkes: {type: opd, name: Dinkes lagi}\n  noc: {type: noc,")
    (lab_copy / "zz-extra.yaml").write_text("sites:\n  drc: {type: drc, name: Another DRC}\n")
    probs = "\n".join(problems_of(lab_copy))
    assert "sites.dinkes: duplicate key (first defined on line" in probs
    assert "inv/zz-extra.yaml:2 sites.drc: defined twice (first at inv/sites.yaml:" in probs


def test_values_out_of_range(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "availability_target: 99.741", "availability_target: 120")
    edit(f, "rto: 1h", "rto: -5m")
    edit(f, "rpo: 24h", "rpo: -1m")
    probs = "\n".join(problems_of(lab_copy))
    assert "services.portal.availability_target: Input should be less than or equal to 100" in probs
    assert "services.simpeg.rto: '-5m' is not a duration" in probs
    assert "services.portal.rpo: '-1m' is not a duration" in probs


def test_rpo_zero_needs_synchronous_replication(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "rpo: 15m", "rpo: 0s")  # RPO 0 is a valid target (no acknowledged write lost) ...
    inv = load_inventory(lab_copy)
    assert inv.services["simpeg"].rpo.total_seconds() == 0
    assert inv.services["simpeg"].replication == "sync"
    edit(f, "replication: sync", "replication: async")  # ... which async replication cannot keep
    probs = "\n".join(problems_of(lab_copy))
    assert "services.simpeg: standby.replication is async but rpo is 0" in probs


def test_overlapping_prefixes_and_backup_not_at_drc(lab_copy: Path) -> None:
    edit(lab_copy / "devices.yaml", "prefix: 10.199.0.4/30", "prefix: 10.199.0.0/29")
    edit(lab_copy / "servers.yaml", "destination: drc-backup", "destination: pd-web")
    probs = "\n".join(problems_of(lab_copy))
    assert (
        "links.core-disdik.prefix: 10.199.0.0/29 overlaps 10.199.0.0/30 of link core-dinkes" in probs
        or "links.core-dinkes.prefix: 10.199.0.0/30 overlaps 10.199.0.0/29 of link core-disdik" in probs
    )
    assert "not at the DRC" in probs


@pytest.mark.parametrize(
    "content, expected",
    [
        ("", "file is empty"),
        ("# only a comment\n", "file is empty"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("nonsense: 1\n", "unknown section"),
        ("sites: [1, 2]\n", "must be a mapping of name"),
        ("\x00\x01binary", "invalid YAML"),
    ],
)
def test_bad_files(lab_copy: Path, content: str, expected: str) -> None:
    (lab_copy / "zz.yaml").write_text(content)
    probs = "\n".join(problems_of(lab_copy))
    assert "zz.yaml" in probs and expected in probs, probs


def test_missing_directory_and_no_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_inventory(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"no \*\.yaml files"):
        load_inventory(tmp_path)


def test_huge_file_refused(lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import simpul.inventory.source as src

    monkeypatch.setattr(src, "MAX_FILE_BYTES", 1024 * 1024)
    (lab_copy / "zz-big.yaml").write_text("# padding\n" * 300_000)  # ~3 MiB
    assert problems_of(lab_copy) == [
        "inv/zz-big.yaml: file is 2 MiB; the limit is 1 MiB (split it into several files)"]


def test_alias_bomb_refused(lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for i in range(1, 9):
        bomb += (
            f"l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        )
        prev = f"l{i}"
    (lab_copy / "bomb.yaml").write_text(bomb)
    # the same mechanism at a smaller budget keeps this test fast (2M nodes take ~6 s to build)
    import simpul.inventory.source as src

    monkeypatch.setattr(src, "MAX_NODES", 50_000)
    assert problems_of(lab_copy) == ["inv/bomb.yaml: file expands to too many values (alias bomb?)"]


@pytest.mark.parametrize(("depth", "said"), [
    (60, "nested more than 40 levels deep"), (800, "nested more than 40 levels deep"),
    (5000, "invalid YAML: exceeded maximum nesting depth"),  # libyaml's own limit
])
def test_deeply_nested_group_vars_are_a_problem_not_a_crash(lab_copy: Path, depth: int, said: str) -> None:
    # used to end in "internal error: RecursionError" once a member inherited the group's vars
    value = "{a: " * depth + "1" + "}" * depth
    (lab_copy / "zz-deep.yaml").write_text(f"groups:\n  deep:\n    vars:\n      x: {value}\n")
    edit(lab_copy / "servers.yaml", "  drc-backup: {site: drc,", "  drc-backup: {groups: [deep], site: drc,")
    probs = problems_of(lab_copy)
    assert any(p.startswith("inv/zz-deep.yaml:4") and said in p for p in probs), probs


def test_a_self_referencing_alias_is_a_problem_not_a_crash(lab_copy: Path) -> None:
    (lab_copy / "zz-loop.yaml").write_text("groups:\n  loop:\n    vars: &v\n      x: *v\n")
    probs = problems_of(lab_copy)
    assert any(p.startswith("inv/zz-loop.yaml:") and "levels deep" in p for p in probs), probs


def test_select() -> None:
    inv = load_inventory(LAB)
    assert select(inv, ["desa-edge"]) == ["desa-kemloko", "desa-jampiroso", "desa-bansari", "desa-kledung"]
    assert select(inv, ["site=drc"]) == ["drc-db", "drc-backup"]
    assert select(inv, ["kind=server", "role!=db*"]) == ["pd-web", "pd-app", "drc-backup",
                                                          "noc-witness", "noc-client"]
    assert select(inv, ["role=core,role=web"]) == ["core-1", "pd-web"]
    with pytest.raises(UsageError, match="matches no"):
        select(inv, ["site=atlantis"])
    with pytest.raises(UsageError, match="unknown selector key"):
        select(inv, ["colour=red"])


@pytest.mark.parametrize(("sel", "term"), [
    ("role=core,nosuch", "nosuch"), ("nosuch,role=core", "nosuch"), ("core-1,core-2", "core-2"),
    ("site=drc,site=atlantis", "site=atlantis"), ("desa-edge,opd-egde", "opd-egde"),
])
def test_a_typo_in_one_or_term_is_an_error_naming_it(sel: str, term: str) -> None:
    inv = load_inventory(LAB)
    with pytest.raises(UsageError) as ei:
        select(inv, [sel])
    assert ei.value.message == f"--limit {sel}: '{term}' matches no host in the inventory (a typo?)"


def test_or_terms_are_checked_against_the_inventory_not_the_narrowed_set() -> None:
    # role=core exists, just not at the DRC: an AND that leaves it out is not a typo
    inv = load_inventory(LAB)
    assert select(inv, ["site=drc", "role=core,role=db*"]) == ["drc-db"]
    with pytest.raises(UsageError, match="'role=db' matches no device"):
        select(inv, ["role=core,role=db"], kind="device")


def test_a_waiver_of_an_unknown_control_is_reported_with_file_and_line(lab_copy: Path) -> None:
    # the control IDs come from the hardening catalog through the inventory-check hook
    # (entry point simpul.inventory_checks), so the core never imports deploys/
    from simpul.inventory.hooks import registered

    assert "hardening" in dict(registered()), "the hardening check hook is not installed"
    edit(lab_copy / "servers.yaml", "    backup: [simpeg-db]\n",
         "    backup: [simpeg-db]\n    hardening:\n      waivers:\n"
         "        - {control: SSH-99, reason: a typo in the control ID, approver: Kepala Bidang,"
         " expires: 2030-01-01}\n"
         "        - {control: SSH-01, reason: a control that exists, approver: Kepala Bidang,"
         " expires: 2030-01-01}\n")
    line = line_of(lab_copy / "servers.yaml", "control: SSH-99")
    probs = problems_of(lab_copy)
    assert len(probs) == 1 and probs[0].startswith(
        f"inv/servers.yaml:{line} servers.pd-db.hardening.waivers[0].control: unknown control 'SSH-99'")


def test_a_waiver_inherited_from_a_group_is_checked_at_the_group_line(lab_copy: Path) -> None:
    edit(lab_copy / "organisation.yaml", "    vars: {role: opd-edge}\n",
         "    vars: {role: opd-edge}\n  waived:\n    vars:\n      hardening:\n        waivers:\n"
         "          - {control: FW-77, reason: a typo in the control ID, approver: Kepala Bidang,"
         " expires: 2030-01-01}\n")
    edit(lab_copy / "servers.yaml", "  drc-backup: {site: drc,", "  drc-backup: {groups: [waived], site: drc,")
    line = line_of(lab_copy / "organisation.yaml", "control: FW-77")
    probs = problems_of(lab_copy)
    assert len(probs) == 1 and probs[0].startswith(
        f"inv/organisation.yaml:{line} servers.drc-backup.hardening.waivers[0].control: "
        "unknown control 'FW-77'"), probs


@pytest.mark.parametrize("role", ['"web\\nserver"', '"web\\\\"', '"web\\tserver"', '" web"', '"a\\\\b"'])
def test_a_server_role_that_cannot_be_a_tag_is_refused(lab_copy: Path, role: str) -> None:
    # the role is a tag on every monitoring point: a newline or a trailing backslash in it made
    # InfluxDB answer 400 and the outbox dead-letter every cycle
    edit(lab_copy / "servers.yaml", "role: web, mgmt_ip", f"role: {role}, mgmt_ip")
    line = line_of(lab_copy / "servers.yaml", "pd-web:")
    probs = problems_of(lab_copy)
    assert len(probs) == 1 and probs[0].startswith(f"inv/servers.yaml:{line} servers.pd-web.role: "), probs


def test_a_server_role_with_commas_quotes_and_unicode_is_fine(lab_copy: Path) -> None:
    edit(lab_copy / "servers.yaml", "role: web, mgmt_ip", "role: 'web \"SIMPEG\", lantai 2 = é', mgmt_ip")
    assert load_inventory(lab_copy).servers["pd-web"].role == 'web "SIMPEG", lantai 2 = é'


def test_static_route_next_hop_must_be_on_the_devices_networks(lab_copy: Path) -> None:
    f = lab_copy / "devices.yaml"
    edit(f, "desa-kemloko: {site: desa-kemloko,",
         "desa-kemloko: {site: desa-kemloko, static_routes: [{prefix: 10.199.40.0/28, via: 10.199.32.2}, "
         "{prefix: 10.199.41.0/28, via: 10.199.99.9}],")
    probs = problems_of(lab_copy)
    assert len(probs) == 1, probs  # the first next hop is on the desa LAN: fine
    assert probs[0].startswith(f"inv/devices.yaml:{line_of(f, '10.199.41.0/28')} "
                               "devices.desa-kemloko.static_routes[1].via: next hop 10.199.99.9 is on none of "
                               "desa-kemloko's networks (10.199.32.0/28, 10.199.0.16/30)"), probs
