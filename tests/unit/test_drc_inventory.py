"""services.<name>.standby in the inventory: the cross-checks of a DRC takeover and the firewall
openings the hardening controls derive from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.deploys.families.firewall import nft_ruleset
from simpul.deploys.hostvars import cluster_ports, host_vars
from simpul.inventory import InventoryInvalid, load_inventory

REPO = Path(__file__).resolve().parents[2]


def problems_of(directory: Path) -> str:
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(directory)
    return "\n".join(str(p) for p in ei.value.problems)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1))


def test_lab_standby_is_valid_and_synchronous() -> None:
    inv = load_inventory(REPO / "inventory" / "lab")
    svc = inv.services["simpeg"]
    assert svc.standby is not None
    assert (svc.standby.primary, svc.standby.replicas, svc.standby.witness) == ("pd-db", ["drc-db"], "noc-witness")
    assert svc.replication == "sync"


def test_replication_defaults_from_the_rpo(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "      replication: sync\n", "")
    assert load_inventory(lab_copy).services["simpeg"].replication == "async"  # rpo 15m
    edit(f, "rpo: 15m", "rpo: 0")
    inv = load_inventory(lab_copy)
    assert inv.services["simpeg"].replication == "sync"
    # RPO 0 is the synchronous standby's promise: the backups are judged by their own period
    from simpul.drc.status import target_of
    target, why = target_of(inv, "simpeg-db")
    assert target == inv.backup_policies["simpeg-db"].every and "standby" in why


def test_rpo_zero_without_a_standby_cannot_be_kept_by_backups(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "rpo: 15m", "rpo: 0")
    text = f.read_text()
    start = text.index("    standby:\n")
    end = text.index("      clients: [10.199.64.0/24]\n") + len("      clients: [10.199.64.0/24]\n")
    f.write_text(text[:start] + text[end:])
    assert "a backup every 15m cannot meet service 'simpeg''s RPO of 0s" in problems_of(lab_copy)


def test_standby_members_must_exist_and_sit_at_the_right_sites(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "      primary: pd-db", "      primary: drc-backup")  # a DRC server as the home primary
    edit(f, "      replicas: [drc-db]", "      replicas: [pd-app]")  # no replica at the DRC
    edit(f, "      witness: noc-witness", "      witness: pd-web")  # witness at the primary's site
    edit(f, "      drill_client: noc-client", "      drill_client: nope")
    probs = problems_of(lab_copy)
    assert "services.simpeg.standby.primary: 'drc-backup' is at a drc site" in probs
    assert "services.simpeg.standby.replicas: no replica is at the DRC" in probs
    assert "services.simpeg.standby.witness: the witness 'pd-web' is at site 'pusat-data'" in probs
    assert "services.simpeg.standby.drill_client: unknown server 'nope'" in probs


def test_standby_vip_must_be_free_and_in_the_plan(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "      vip: 10.199.64.100", "      vip: 10.199.64.11")
    assert "services.simpeg.standby.vip: 10.199.64.11 is already used by server pd-web" in problems_of(lab_copy)
    edit(f, "      vip: 10.199.64.11", "      vip: 10.199.99.1")
    assert "services.simpeg.standby.vip: 10.199.99.1 is not in the servers" in problems_of(lab_copy)


def test_standby_names_a_known_secret_and_distinct_servers(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "      credential: lab-drc-cluster", "      credential: no-such-secret")
    assert "services.simpeg.standby.credential: unknown secret 'no-such-secret'" in problems_of(lab_copy)
    edit(f, "      replicas: [drc-db]", "      replicas: [drc-db, pd-db]")
    probs = problems_of(lab_copy)
    assert "primary, replicas and witness must be different servers (pd-db named twice)" in probs


def test_services_sharing_a_server_share_its_etcd_members(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    edit(f, "    rpo: 24h\n", "    rpo: 24h\n    standby: {primary: pd-web, replicas: [drc-db], witness: noc-client, "
         "vip: 10.199.64.101, credential: lab-drc-cluster}\n")
    assert ("server 'drc-db' is also in the standby of service 'portal' with other members"
            in problems_of(lab_copy))


def test_cluster_ports_are_open_only_to_the_members() -> None:
    inv = load_inventory(REPO / "inventory" / "lab")
    members = ("10.199.64.13", "10.199.65.11", "10.199.66.11")
    db = {(p.port, p.service): p.sources for p in cluster_ports(inv, "pd-db")}
    assert db == {(5432, "postgresql"): (), (2379, "etcd"): members, (2380, "etcd"): members,
                  (8008, "patroni"): members}
    witness = {(p.port, p.service) for p in cluster_ports(inv, "noc-witness")}
    assert witness == {(2379, "etcd"), (2380, "etcd")}  # no PostgreSQL, no Patroni on the witness
    assert cluster_ports(inv, "pd-web") == ()
    rules = nft_ruleset(host_vars(inv, "noc-witness"))
    assert ('ip saddr { 10.199.64.13, 10.199.65.11, 10.199.66.11 } tcp dport 2379 accept '
            'comment "etcd | FW-02"') in rules
    assert rules.count("dport 2379") == 1  # no second rule opening etcd to everyone
