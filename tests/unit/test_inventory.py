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
    edit(lab_copy / "servers.yaml", "backup: [simpeg-db-harian]", "backup: [nope]")
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

    monkeypatch.setattr(src, "MAX_FILE_BYTES", 1000)
    probs = "\n".join(problems_of(lab_copy))
    assert "MiB; the limit is" in probs or "the limit is" in probs


def test_alias_bomb_refused(lab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for i in range(1, 9):
        bomb += (
            f"l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        )
        prev = f"l{i}"
    (lab_copy / "bomb.yaml").write_text(bomb)
    probs = "\n".join(problems_of(lab_copy))
    assert "too many values" in probs


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
