"""The DRC standby's files and passwords (deploys/dbcluster_render.py): pure, from the lab
inventory; the SCRAM verifier is checked against one PostgreSQL 15 itself produced."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from simpul.deploys import dbcluster_render as rd
from simpul.deploys.dbcluster import config_diff
from simpul.errors import ConfigError
from simpul.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]
FIX = Path(__file__).parent / "fixtures" / "drc"
PASSWORDS = {p: f"pw-{p}" for p in rd.PASSWORD_PURPOSES}


@pytest.fixture(scope="module")
def spec() -> rd.ClusterSpec:
    return rd.cluster_spec(load_inventory(REPO / "inventory" / "lab"), "simpeg")


def test_spec_from_the_inventory(spec: rd.ClusterSpec) -> None:
    assert spec.primary.name == "pd-db" and spec.drc_replica.name == "drc-db"
    assert [m.name for m in spec.members] == ["pd-db", "drc-db", "noc-witness"]
    assert spec.witness.site_type == "noc" and spec.replication == "sync"
    assert spec.data_dir == "/var/lib/postgresql/15/main" and spec.leader_key == "/service/simpeg/leader"


def test_a_service_without_standby_is_a_clear_error() -> None:
    inv = load_inventory(REPO / "inventory" / "lab")
    with pytest.raises(ConfigError, match="service 'portal' has no standby"):
        rd.cluster_spec(inv, "portal")
    with pytest.raises(ConfigError, match="no service 'nope'"):
        rd.cluster_spec(inv, "nope")


def test_timings_keep_patronis_rule() -> None:
    # an isolated primary demotes itself before its key can expire and another one promotes
    assert rd.LOOP_WAIT + 2 * rd.RETRY_TIMEOUT <= rd.TTL


def test_passwords_are_derived_per_purpose_and_stable() -> None:
    a = {p: rd.derive_password("a-long-cluster-secret", p) for p in rd.PASSWORD_PURPOSES}
    assert len(set(a.values())) == len(a)
    assert a == {p: rd.derive_password("a-long-cluster-secret", p) for p in rd.PASSWORD_PURPOSES}
    assert rd.derive_password("another-cluster-secret", "drill") != a["drill"]
    with pytest.raises(ConfigError, match="at least 16"):
        rd.derive_password("short", "drill")


def test_scram_verifier_matches_postgresql() -> None:
    # made by PostgreSQL 15 in the lab: CREATE ROLE ... PASSWORD 'pencil' (scram-sha-256)
    from_pg = (FIX / "scram-pencil.txt").read_text().strip()
    assert rd.scram_matches(from_pg, "pencil")
    assert not rd.scram_matches(from_pg, "pencil2")
    assert not rd.scram_matches("md5abcdef", "pencil") and not rd.scram_matches(None, "pencil")
    mine = rd.scram_verifier("pencil", b"0123456789abcdef")
    assert rd.scram_matches(mine, "pencil") and mine.startswith("SCRAM-SHA-256$4096:")


def test_etcd_member_settings(spec: rd.ClusterSpec) -> None:
    env = dict(line.split("=", 1) for line in rd.render_etcd_default(spec, spec.witness).splitlines()
               if line and not line.startswith("#"))
    assert env["ETCD_NAME"] == '"noc-witness"'
    assert env["ETCD_INITIAL_CLUSTER"] == ('"pd-db=http://10.199.64.13:2380,drc-db=http://10.199.65.11:2380,'
                                           'noc-witness=http://10.199.66.11:2380"')
    assert env["ETCD_ENABLE_V2"] == '"true"' and env["ETCD_PRE_VOTE"] == '"true"'
    assert env["ETCD_DATA_DIR"] == f'"/var/lib/etcd/{spec.etcd_token}"'


def test_patroni_configuration(spec: rd.ClusterSpec) -> None:
    conf = yaml.safe_load(rd.render_patroni(spec, spec.drc_replica, PASSWORDS))
    assert conf["name"] == "drc-db" and conf["scope"] == "simpeg"
    assert conf["etcd"]["hosts"][0] == "10.199.65.11:2379" and len(conf["etcd"]["hosts"]) == 3
    dcs = conf["bootstrap"]["dcs"]
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (rd.TTL, rd.LOOP_WAIT, rd.RETRY_TIMEOUT)
    assert dcs["synchronous_mode"] is True and dcs["postgresql"]["use_pg_rewind"] is True
    assert dcs["postgresql"]["parameters"]["wal_retrieve_retry_interval"] == "200ms"
    pg = conf["postgresql"]
    assert pg["data_dir"] == spec.data_dir and pg["listen"] == "0.0.0.0:5432"
    assert pg["parameters"]["simpul.node"] == "drc-db"
    assert pg["authentication"]["replication"] == {"username": "simpul_replicator",
                                                    "password": "pw-replication"}
    assert "host replication simpul_replicator 10.199.64.13/32 scram-sha-256" in pg["pg_hba"]
    assert "host all all 10.199.64.0/24 scram-sha-256" in pg["pg_hba"]
    with pytest.raises(ValueError, match="witness"):
        rd.render_patroni(spec, spec.witness, PASSWORDS)


def test_async_service_has_no_synchronous_mode(spec: rd.ClusterSpec) -> None:
    from dataclasses import replace

    assert rd.dynamic_config(replace(spec, replication="async"))["synchronous_mode"] is False


def test_drill_client_only_reaches_the_drill_database(spec: rd.ClusterSpec) -> None:
    from ipaddress import IPv4Address

    hba = rd.pg_hba(spec, IPv4Address("10.199.66.12"))
    assert "host simpul_drill simpul_drill 10.199.66.12/32 scram-sha-256" in hba
    assert not any("10.199.66.12" in line and "simpul_drill simpul_drill" not in line for line in hba)


def test_vip_manager_follows_the_leader_key(spec: rd.ClusterSpec) -> None:
    conf = yaml.safe_load(rd.render_vip(spec, spec.primary))
    assert conf["trigger-key"] == "/service/simpeg/leader" and conf["trigger-value"] == "pd-db"
    assert conf["ip"] == "10.199.64.100" and conf["netmask"] == 32
    assert conf["dcs-endpoints"].split(",")[0] == "http://10.199.64.13:2379"


def test_init_scripts_match_by_name_not_exe(spec: rd.ClusterSpec) -> None:
    # confined servers cannot read another user's /proc/PID/exe: --exec would never match
    for text in (rd.render_patroni_initd(spec), rd.render_vip_initd(spec), rd.render_etcd_initd()):
        code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        assert not any("--exec" in line for line in code)
        assert 'MATCH="--pidfile $PIDFILE --name ' in text
        assert sum("start-stop-daemon" in line and "$MATCH" in line for line in code) == 4
    assert "--chuid postgres" in rd.render_patroni_initd(spec)
    assert "install -d -o postgres -g postgres -m 2775 /var/run/postgresql" in rd.render_patroni_initd(spec)


def test_config_diff_compares_like_patroni() -> None:
    cur = {"ttl": 10, "synchronous_mode": True, "postgresql": {"parameters": {"hot_standby": "on"}}}
    want = {"ttl": "10", "synchronous_mode": "on", "postgresql": {"parameters": {"hot_standby": True,
                                                                                  "wal_keep_size": "256MB"}}}
    assert config_diff(cur, want) == [("postgresql.parameters.wal_keep_size", None, "256MB")]


def test_rpo_zero_is_allowed_but_rto_is_not() -> None:
    from simpul.inventory.models import Service

    s = Service(name="xy", owner="noc", servers=["a"], availability_target=99.0, rto="1m", rpo=0)
    assert s.rpo == timedelta(0)
    with pytest.raises(ValueError):
        Service(name="xy", owner="noc", servers=["a"], availability_target=99.0, rto=0, rpo=0)
