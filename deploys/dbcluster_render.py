"""The DRC standby of a service, computed from the inventory and rendered as files (pure).

``simpul drc deploy`` builds, for every service with ``standby:`` in the inventory, a database
cluster from existing engines (Pergub Kalteng 24/2022 Pasal 11(2)(b), 14: the DRC takes over when
the Pusat Data does not function; Pergub Jambi 12/2022 Pasal 23(2)(c): critical systems get a
standby that quickly takes over):

- **etcd 3.4** on the primary, the DRC replica(s) and a witness at a third site: the majority
  decides who may lead, so a cut between the Pusat Data and the DRC can never make two primaries
  (LAB-FACTS: VRRP alone did, 1,178 acknowledged commits ended on the orphaned side);
- **Patroni 3.0** managing PostgreSQL streaming replication (synchronous when the service's RPO is
  0), promoting the replica when the leader key expires, rejoining old primaries with pg_rewind;
- **vip-manager 1.0** putting the service address on whichever server holds the leader key.

vip-manager 1.0.2 (Debian 12) reads the leader key through etcd's **v2** API, so etcd runs with
``--enable-v2`` and Patroni uses its ``etcd:`` (v2) section: etcd's v2 and v3 key spaces are
separate, and both must see the same key.

This module is pure: :func:`cluster_spec` reads the inventory, the ``render_*`` functions return
file contents, :func:`derive_password` and :func:`scram_verifier` turn the cluster secret into the
passwords and PostgreSQL verifiers. :mod:`simpul.deploys.dbcluster` puts them on the servers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Literal

import yaml

from simpul.errors import ConfigError
from simpul.inventory.models import Inventory

REFS = ["Pergub Kalteng 24/2022 Pasal 11(2)(b), 14", "Pergub Jambi 12/2022 Pasal 21(1)(c), 23(2)(c)",
        "Pergub Jateng (draft 2025) Pasal 11(6), 12(1)(g)"]

HEADER = "# Managed by Simpul (simpul drc deploy): edit the inventory, not this file.\n"

# --- timings: what they are and why (docs/drc.md "Takeover (failover)") ----------------------
TTL = 10
"""Patroni leader key TTL (s). A crashed or cut-off primary is replaced after at most this long
(plus one loop): the RTO floor of an unplanned takeover. Patroni's default is 30 s."""
LOOP_WAIT = 2
"""Seconds between Patroni's HA loops (default 10)."""
RETRY_TIMEOUT = 4
"""How long Patroni retries the DCS and PostgreSQL before giving up (default 10). Patroni needs
``loop_wait + 2 * retry_timeout <= ttl``: an isolated primary demotes itself *before* its key can
expire and another node can be promoted."""
PRIMARY_START_TIMEOUT = 10
"""A primary whose PostgreSQL crashed (Patroni alive) is restarted in place for this long before
a failover (default 300 s)."""
WAL_RETRIEVE_RETRY_INTERVAL = "200ms"
"""LAB-FACTS: with the default 5 s, about 1 promote in 10 stalled 5 s; 200 ms removes it."""
WAL_SENDER_TIMEOUT = "10s"
"""A dead sync standby is noticed after this (default 60 s); until then commits wait for it."""
VIP_INTERVAL_MS = 250
"""vip-manager polls the leader key this often (default 1000 ms)."""
ETCD_HEARTBEAT_MS = 200
ETCD_ELECTION_MS = 2000
"""etcd heartbeat/election timeouts (defaults 100/1000 ms) — doubled: the lab shares 2 CPUs with
everyone, and an etcd election storm would look like a DCS outage to Patroni."""

PASSWORD_PURPOSES = ("replication", "rewind", "restapi", "drill")
ROLE = {"replication": "simpul_replicator", "rewind": "simpul_rewind", "drill": "simpul_drill"}
RESTAPI_USER = "simpul"
DRILL_DB = "simpul_drill"


@dataclass(frozen=True)
class Member:
    """One server of the cluster."""

    name: str
    address: IPv4Address
    site: str
    site_type: str
    role: Literal["primary", "replica", "witness"]

    @property
    def is_db(self) -> bool:
        return self.role != "witness"


@dataclass(frozen=True)
class ClusterSpec:
    """Everything the deploy and the drills need to know about one service's standby."""

    service: str
    primary: Member
    replicas: tuple[Member, ...]
    witness: Member
    vip: IPv4Address
    interface: str
    port: int
    replication: Literal["sync", "async"]
    version: int
    secret: str
    rto: timedelta
    rpo: timedelta
    drill_client: str | None = None
    clients: tuple[IPv4Network, ...] = ()
    timings: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        """Patroni's cluster name (the service name)."""
        return self.service

    @property
    def db_members(self) -> tuple[Member, ...]:
        return (self.primary, *self.replicas)

    @property
    def members(self) -> tuple[Member, ...]:
        return (*self.db_members, self.witness)

    @property
    def drc_replica(self) -> Member:
        """The replica that takes over (the first one at a DRC site)."""
        return next((r for r in self.replicas if r.site_type == "drc"), self.replicas[0])

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise ConfigError(f"{name} is not a member of the {self.service} cluster "
                          f"({', '.join(m.name for m in self.members)})")

    @property
    def etcd_token(self) -> str:
        """Stable etcd cluster token (and data directory name) for this set of members."""
        digest = hashlib.sha256(",".join(sorted(m.name for m in self.members)).encode())
        return f"simpul-{digest.hexdigest()[:10]}"

    @property
    def data_dir(self) -> str:
        return f"/var/lib/postgresql/{self.version}/main"

    @property
    def config_dir(self) -> str:
        return f"/etc/postgresql/{self.version}/main"

    @property
    def bin_dir(self) -> str:
        return f"/usr/lib/postgresql/{self.version}/bin"

    @property
    def patroni_config(self) -> str:
        return f"/etc/patroni/{self.scope}.yml"

    @property
    def vip_config(self) -> str:
        return f"/etc/patroni/vip-{self.scope}.yml"

    @property
    def patroni_service(self) -> str:
        return f"simpul-patroni-{self.scope}"

    @property
    def vip_service(self) -> str:
        return f"simpul-vip-{self.scope}"

    @property
    def patroni_pidfile(self) -> str:
        return f"/var/run/simpul-patroni-{self.scope}.pid"

    @property
    def vip_pidfile(self) -> str:
        return f"/var/run/simpul-vip-{self.scope}.pid"

    @property
    def leader_key(self) -> str:
        return f"/service/{self.scope}/leader"


def cluster_specs(inv: Inventory) -> list[ClusterSpec]:
    """Every service of the inventory that asks for a DRC standby."""
    return [cluster_spec(inv, n) for n, s in inv.services.items() if s.standby is not None]


def cluster_spec(inv: Inventory, service: str) -> ClusterSpec:
    """The standby of ``service``; :class:`ConfigError` if it has none or is incomplete."""
    svc = inv.services.get(service)
    if svc is None:
        raise ConfigError(f"no service '{service}' in the inventory",
                          hint="services: " + ", ".join(sorted(inv.services)))
    sb = svc.standby
    if sb is None:
        with_sb = sorted(n for n, s in inv.services.items() if s.standby is not None)
        raise ConfigError(f"service '{service}' has no standby: in the inventory",
                          hint=("services with a DRC standby: " + ", ".join(with_sb)) if with_sb
                          else "add services.<name>.standby (inventory/README.md)")

    def member(name: str, role: Literal["primary", "replica", "witness"]) -> Member:
        srv = inv.servers.get(name)
        if srv is None or srv.address is None:
            raise ConfigError(f"services.{service}.standby: server '{name}' is unknown or has no "
                              "address")
        site = inv.sites.get(srv.site)
        return Member(name, srv.address, srv.site, site.type if site else "?", role)

    replication = svc.replication
    assert replication is not None  # a standby always has a replication mode
    return ClusterSpec(
        service=service, primary=member(sb.primary, "primary"),
        replicas=tuple(member(r, "replica") for r in sb.replicas),
        witness=member(sb.witness, "witness"), vip=sb.vip, interface=sb.interface, port=sb.port,
        replication=replication, version=sb.postgres_version, secret=sb.credential, rto=svc.rto,
        rpo=svc.rpo, drill_client=sb.drill_client, clients=tuple(sb.clients))


# --- passwords ----------------------------------------------------------------------------------


def derive_password(cluster_secret: str, purpose: str) -> str:
    """The password for ``purpose`` (replication, rewind, restapi, drill), derived from the one
    cluster secret with HMAC-SHA256 so the inventory names a single secret per cluster and each
    role still gets its own password (knowing one does not reveal the others)."""
    if purpose not in PASSWORD_PURPOSES:
        raise ValueError(f"unknown password purpose {purpose!r}")
    if len(cluster_secret) < 16:
        raise ConfigError("the cluster secret must have at least 16 characters")
    mac = hmac.new(cluster_secret.encode(), f"simpul/drc/{purpose}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def scram_verifier(password: str, salt: bytes, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier (RFC 5802/7677), as stored in ``pg_authid``.

    Sending the verifier (``ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'``) means the clear
    password never reaches the server, its logs or ``pg_stat_activity``.
    """
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}$"
            f"{b64(stored_key).decode()}:{b64(server_key).decode()}")


_SCRAM = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")


def scram_matches(verifier: str | None, password: str) -> bool:
    """True if the stored ``verifier`` is the SCRAM-SHA-256 verifier of ``password``."""
    m = _SCRAM.match(verifier or "")
    if not m:
        return False
    salt = base64.b64decode(m.group(2))
    return hmac.compare_digest(scram_verifier(password, salt, int(m.group(1))), verifier or "")


# --- rendering ------------------------------------------------------------------------------------


def etcd_hosts(spec: ClusterSpec, first: Member | None = None) -> list[str]:
    """``addr:2379`` of every etcd member, ``first``'s own member first."""
    ms = sorted(spec.members, key=lambda m: (m != first, m.role == "witness", m.name))
    return [f"{m.address}:2379" for m in ms]


ETCD_SERVICE = "simpul-etcd"
ETCD_ENV = "/etc/default/simpul-etcd"
ETCD_PIDFILE = "/var/run/simpul-etcd.pid"


def render_etcd_default(spec: ClusterSpec, m: Member) -> str:
    """``/etc/default/simpul-etcd``: the member's settings, read by :func:`render_etcd_initd`."""
    cluster = ",".join(f"{x.name}=http://{x.address}:2380" for x in spec.members)
    env = {
        "ETCD_NAME": m.name,
        "ETCD_DATA_DIR": f"/var/lib/etcd/{spec.etcd_token}",
        "ETCD_LISTEN_PEER_URLS": f"http://{m.address}:2380",
        "ETCD_LISTEN_CLIENT_URLS": f"http://127.0.0.1:2379,http://{m.address}:2379",
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"http://{m.address}:2380",
        "ETCD_ADVERTISE_CLIENT_URLS": f"http://{m.address}:2379",
        "ETCD_INITIAL_CLUSTER": cluster,
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_INITIAL_CLUSTER_TOKEN": spec.etcd_token,
        # vip-manager 1.0.2 reads the leader key with the v2 API (see the module docstring)
        "ETCD_ENABLE_V2": "true",
        # a member cut off from the leader must not disrupt the majority with elections of its
        # own when it comes back (a partial partition: the witness still sees both sites)
        "ETCD_PRE_VOTE": "true",
        "ETCD_HEARTBEAT_INTERVAL": str(ETCD_HEARTBEAT_MS),
        "ETCD_ELECTION_TIMEOUT": str(ETCD_ELECTION_MS),
        "ETCD_LOGGER": "zap",
        "ETCD_LOG_OUTPUTS": "/var/log/etcd/simpul.log",
    }
    body = "".join(f'{k}="{v}"\n' for k, v in env.items())
    return (f"{HEADER}# etcd member {m.name} of {spec.etcd_token} (DRC standby: "
            f"{', '.join(x.name for x in spec.members)})\n{body}")


def dynamic_config(spec: ClusterSpec) -> dict[str, Any]:
    """Patroni's cluster-wide (DCS) configuration: written at the first start and kept in step by
    the deploy (``PATCH /config``) afterwards."""
    sync = spec.replication == "sync"
    return {
        "ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
        "primary_start_timeout": PRIMARY_START_TIMEOUT,
        "maximum_lag_on_failover": 1048576,
        "synchronous_mode": sync,
        "synchronous_mode_strict": False,
        "failsafe_mode": False,
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": {
                "wal_level": "replica",
                "hot_standby": "on",
                "wal_log_hints": "on",  # pg_rewind needs it (Debian clusters have no checksums)
                "max_wal_senders": 10,
                "max_replication_slots": 10,
                "wal_keep_size": "256MB",
                "wal_sender_timeout": WAL_SENDER_TIMEOUT,
                "wal_receiver_timeout": WAL_SENDER_TIMEOUT,
                "wal_retrieve_retry_interval": WAL_RETRIEVE_RETRY_INTERVAL,
                "synchronous_commit": "on",
            },
        },
    }


def pg_hba(spec: ClusterSpec, drill_client_address: IPv4Address | None) -> list[str]:
    """``pg_hba.conf`` lines (Patroni writes them on every member, so they follow the leader)."""
    lines = [
        "local all postgres peer",
        "local all all peer",
        "host all all 127.0.0.1/32 scram-sha-256",
        "local replication all peer",
    ]
    for m in spec.db_members:
        lines.append(f"host replication {ROLE['replication']} {m.address}/32 scram-sha-256")
        lines.append(f"host all {ROLE['rewind']} {m.address}/32 scram-sha-256")
    if drill_client_address is not None:
        lines.append(f"host {DRILL_DB} {ROLE['drill']} {drill_client_address}/32 scram-sha-256")
    for net in spec.clients:
        lines.append(f"host all all {net} scram-sha-256")
    return lines


def render_patroni(spec: ClusterSpec, m: Member, passwords: dict[str, str],
                   drill_client_address: IPv4Address | None = None) -> str:
    """``/etc/patroni/<scope>.yml`` of database member ``m`` (mode 0600, owner postgres: it holds
    the replication, rewind and REST API passwords)."""
    if not m.is_db:
        raise ValueError(f"{m.name} is the witness: it runs etcd only")
    conf: dict[str, Any] = {
        "scope": spec.scope,
        "namespace": "/service/",
        "name": m.name,
        "log": {"level": "INFO"},
        "restapi": {
            "listen": f"{m.address}:8008",
            "connect_address": f"{m.address}:8008",
            "authentication": {"username": RESTAPI_USER, "password": passwords["restapi"]},
        },
        "etcd": {"hosts": etcd_hosts(spec, m), "protocol": "http"},
        "bootstrap": {
            "dcs": dynamic_config(spec),
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"],
        },
        "postgresql": {
            "listen": f"0.0.0.0:{spec.port}",
            "connect_address": f"{m.address}:{spec.port}",
            "data_dir": spec.data_dir,
            "config_dir": spec.config_dir,
            "bin_dir": spec.bin_dir,
            "pgpass": f"/var/lib/postgresql/.pgpass-{spec.scope}",
            "use_unix_socket": True,
            "authentication": {
                # Patroni runs as the OS user postgres and logs in over the local socket (peer)
                "superuser": {"username": "postgres"},
                "replication": {"username": ROLE["replication"],
                                "password": passwords["replication"]},
                "rewind": {"username": ROLE["rewind"], "password": passwords["rewind"]},
            },
            "parameters": {
                "unix_socket_directories": "/var/run/postgresql",
                # which server acknowledged a write: the drill's client reads it back
                "simpul.node": m.name,
            },
            "pg_hba": pg_hba(spec, drill_client_address),
            "create_replica_methods": ["basebackup"],
            "basebackup": [{"checkpoint": "fast"}],
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False,
                 "nosync": False},
    }
    return (f"{HEADER}# Patroni member {m.name} of {spec.scope} ({m.site}); refs: "
            f"{'; '.join(REFS)}\n" + yaml.safe_dump(conf, sort_keys=False, default_flow_style=False))


def render_vip(spec: ClusterSpec, m: Member) -> str:
    """vip-manager 1.0.2 configuration: the service address on ``m`` while ``m`` holds the
    leader key (read with a quorum read from any etcd member, so an isolated site drops it)."""
    conf = {
        "ip": str(spec.vip),
        "netmask": 32,  # a host route: the address never becomes the source of other traffic
        "interface": spec.interface,
        "trigger-key": spec.leader_key,
        "trigger-value": m.name,
        "dcs-type": "etcd",
        "dcs-endpoints": ",".join(f"http://{h}" for h in etcd_hosts(spec, m)),
        "interval": VIP_INTERVAL_MS,
        "retry-num": 3,
        "retry-after": 250,
    }
    return f"{HEADER}# vip-manager for {spec.scope} on {m.name}\n" + yaml.safe_dump(conf, sort_keys=False)


_INITD = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:    $network $remote_fs $syslog{after}
# Required-Stop:     $network $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: {desc}
### END INIT INFO
{header}
NAME={name}
PIDFILE={pidfile}
LOG={log}
# matched by process name (/proc/PID/stat), not --exec: reading another user's /proc/PID/exe
# needs CAP_SYS_PTRACE, which confined servers (containers, the lab) do not have
MATCH="--pidfile $PIDFILE --name {comm}"
case "$1" in
  start)
    touch "$LOG" && chown {user} "$LOG" && chmod 640 "$LOG"{prestart}
    start-stop-daemon --start --quiet --oknodo --background --make-pidfile $MATCH \\
        --chuid {user} --output "$LOG" --startas {exe} -- {args} ;;
  stop)
    start-stop-daemon --stop --quiet --oknodo --retry {retry} $MATCH
    rm -f "$PIDFILE" ;;
  restart|force-reload) "$0" stop; "$0" start ;;
  reload) start-stop-daemon --stop --quiet --signal HUP $MATCH ;;
  status) start-stop-daemon --status $MATCH ;;
  *) echo "Usage: $0 {{start|stop|restart|reload|status}}" >&2; exit 3 ;;
esac
"""


def render_patroni_initd(spec: ClusterSpec) -> str:
    """Init script for Patroni (the lab and Debian without systemd; a plain daemon + pidfile).

    ``stop`` gives Patroni 60 s: it shuts PostgreSQL down and, on the leader, hands the leader key
    back so the replica can take over at once (a planned restart, not a crash)."""
    return _INITD.format(
        name=spec.patroni_service, after=f" {ETCD_SERVICE}", desc=f"Patroni for {spec.scope} (Simpul DRC standby)",
        header=HEADER.rstrip(), pidfile=spec.patroni_pidfile,
        log=f"/var/log/postgresql/patroni-{spec.scope}.log", exe="/usr/bin/patroni", comm="patroni",
        user="postgres", args=spec.patroni_config, retry="TERM/60/KILL/5",
        # the socket directory lives in /run: gone after a reboot (Debian's own script makes it)
        prestart="\n    install -d -o postgres -g postgres -m 2775 /var/run/postgresql")


def render_etcd_initd() -> str:
    """Init script for etcd (Debian's own one finds its daemon with ``--exec``, which cannot
    see another user's process on a server without CAP_SYS_PTRACE — containers, the lab)."""
    return _INITD.format(
        name=ETCD_SERVICE, after="", desc="etcd member of a Simpul DRC standby", header=HEADER.rstrip(),
        pidfile=ETCD_PIDFILE, log="/var/log/etcd/simpul-daemon.log", exe="/usr/bin/etcd",
        comm="etcd", user="etcd", args="", retry="TERM/20/KILL/5",
        prestart=f"\n    [ -r {ETCD_ENV} ] || {{ echo \"{ETCD_ENV} missing\" >&2; exit 1; }}"
                 f"\n    set -a; . {ETCD_ENV}; set +a"
                 # etcd's own log file: not world-readable (hardening control LOG-04)
                 "\n    touch \"$ETCD_LOG_OUTPUTS\" && chown etcd \"$ETCD_LOG_OUTPUTS\" && "
                 "chmod 640 \"$ETCD_LOG_OUTPUTS\"")


def render_vip_initd(spec: ClusterSpec) -> str:
    """Init script for vip-manager (root: it adds and removes the address, sends ARP)."""
    return _INITD.format(
        name=spec.vip_service, after=f" {ETCD_SERVICE}", desc=f"vip-manager for {spec.scope} (Simpul)",
        header=HEADER.rstrip(), pidfile=spec.vip_pidfile, log=f"/var/log/vip-manager-{spec.scope}.log",
        exe="/usr/bin/vip-manager", comm="vip-manager", user="root", args=f"--config {spec.vip_config}",
        retry="TERM/10/KILL/5", prestart="")
