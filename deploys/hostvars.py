"""What the inventory says about one server, reduced to what hardening needs (pure).

:func:`host_vars` turns an :class:`~simpul.inventory.models.Inventory` and a server name into a
:class:`HostVars`; :func:`decide` says, per control, whether to apply it, that it is waived or
that it does not apply (with the reason). Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from ipaddress import IPv4Address, IPv4Network
from typing import Literal

from simpul.deploys.catalog import CONTROLS, Control
from simpul.errors import ConfigError
from simpul.inventory.models import Inventory, Waiver

# Service name → (port, protocol). ``name/port`` in the inventory overrides the port (TCP).
SERVICE_PORTS: dict[str, tuple[tuple[int, str], ...]] = {
    "ssh": ((22, "tcp"),),
    "http": ((80, "tcp"),),
    "https": ((443, "tcp"),),
    "postgresql": ((5432, "tcp"),),
    "mysql": ((3306, "tcp"),),
    "snmp": ((161, "udp"),),
    "syslog": ((514, "tcp"), (514, "udp")),
    "ntp": ((123, "udp"),),
    "dns": ((53, "udp"), (53, "tcp")),
    "smtp": ((25, "tcp"),),
    "submission": ((587, "tcp"),),
    "imaps": ((993, "tcp"),),
    "ldap": ((389, "tcp"),),
    "ldaps": ((636, "tcp"),),
    "rsync": ((873, "tcp"),),
    "restic-rest": ((8000, "tcp"),),
    # DRC standby (simpul drc deploy): etcd clients and peers, the Patroni REST API. Opened only
    # to the cluster's own members (see cluster_ports), never to the whole network.
    "etcd": ((2379, "tcp"), (2380, "tcp")),
    "patroni": ((8008, "tcp"),),
}
# Management services are admitted only from organisation.noc_ranges (FW-03).
MANAGEMENT_SERVICES = frozenset({"ssh", "snmp"})
SSH_GROUP = "simpul-ssh"


@dataclass(frozen=True)
class Port:
    port: int
    proto: str  # tcp | udp
    service: str
    management: bool
    sources: tuple[str, ...] = ()  # only these addresses/networks may connect (empty: anyone)


@dataclass(frozen=True)
class AdminSpec:
    """One inventory admin as seen from one server (ACC-07); ``granted``: listed in its admins."""

    name: str
    full_name: str
    keys: tuple[str, ...]
    sudo: bool
    expires: date | None
    state: Literal["present", "absent"]
    granted: bool


@dataclass(frozen=True)
class HostVars:
    """Hardening inputs for one server, from the inventory."""

    name: str
    mgmt_ip: IPv4Address
    ssh_user: str
    ssh_port: int
    ssh_key: str  # secret name
    become: bool
    profile: Literal["baseline", "strict", "none"]
    ip_forward: bool
    ports: tuple[Port, ...]
    noc_ranges: tuple[IPv4Network, ...]
    ntp_servers: tuple[str, ...]
    log_host: str | None
    log_host_ip: IPv4Address | None
    organisation: str
    waivers: tuple[Waiver, ...] = field(default_factory=tuple)
    admins: tuple[AdminSpec, ...] = field(default_factory=tuple)  # every inventory admin

    @property
    def is_log_host(self) -> bool:
        return self.log_host == self.name


def parse_service(spec: str) -> tuple[Port, ...]:
    """``"https"`` → its known ports; ``"http/8080"`` → TCP 8080. Unknown names are errors."""
    name, _, port = spec.partition("/")
    mgmt = name in MANAGEMENT_SERVICES
    if port:
        return (Port(int(port), "tcp", name, mgmt),)
    if name not in SERVICE_PORTS:
        raise ConfigError(
            f"service '{name}': no known port",
            hint=f"write it as {name}/<port> or use one of: {', '.join(sorted(SERVICE_PORTS))}",
        )
    return tuple(Port(p, proto, name, mgmt) for p, proto in SERVICE_PORTS[name])


def host_vars(inv: Inventory, name: str) -> HostVars:
    """Collect the hardening inputs of server ``name`` (``ConfigError`` if it is not a server)."""
    if name not in inv.servers:
        raise ConfigError(f"{name}: not a server in the inventory ({inv.source or 'inventory'})")
    s = inv.servers[name]
    services = list(s.services)
    if not any(x.partition("/")[0] == "ssh" for x in services):
        services.insert(0, "ssh")  # we manage it over SSH: it is always served
    ports: list[Port] = []
    for spec in services:
        for p in parse_service(spec):
            if p not in ports:
                ports.append(p)
    for p in cluster_ports(inv, name):
        if not any((q.port, q.proto) == (p.port, p.proto) for q in ports):
            ports.append(p)
    org = inv.organisation
    log_ip = inv.servers[org.log_host].mgmt_ip if org.log_host and org.log_host in inv.servers else None
    return HostVars(
        name=name, mgmt_ip=s.mgmt_ip, ssh_user=s.ssh.user, ssh_port=s.ssh.port, ssh_key=s.ssh.key,
        become=s.ssh.become, profile=s.hardening.profile, ip_forward=s.hardening.ip_forward,
        ports=tuple(ports), noc_ranges=tuple(org.noc_ranges), ntp_servers=tuple(org.ntp_servers),
        log_host=org.log_host, log_host_ip=log_ip, organisation=org.name,
        waivers=tuple(s.hardening.waivers),
        admins=tuple(AdminSpec(name=n, full_name=a.full_name, keys=tuple(a.public_keys), sudo=a.sudo,
                               expires=a.expires, state=a.state, granted=n in s.admins)
                     for n, a in sorted(inv.admins.items())),
    )


def cluster_ports(inv: Inventory, name: str) -> tuple[Port, ...]:
    """Ports a server opens because it is in a service's DRC standby (``services.*.standby``):
    PostgreSQL on the database members (clients, replication), etcd (2379/2380) and the Patroni
    REST API (8008) only to the cluster's members — Pergub Jambi 12/2022 Pasal 23(2)(b) (firewall),
    Pergub Kalteng 24/2022 Pasal 14 (the DRC standby)."""
    out: list[Port] = []
    for svc in inv.services.values():
        sb = svc.standby
        if sb is None:
            continue
        db = [sb.primary, *sb.replicas]
        members = [*db, sb.witness]
        if name not in members:
            continue
        peers = tuple(sorted({str(inv.servers[m].address) for m in members
                              if m in inv.servers and inv.servers[m].address is not None}))
        wanted: list[tuple[str, int, tuple[str, ...]]] = [("etcd", 2379, peers), ("etcd", 2380, peers)]
        if name in db:
            wanted = [("postgresql", sb.port, ()), *wanted, ("patroni", 8008, peers)]
        for svc_name, port, sources in wanted:
            p = Port(port, "tcp", svc_name, False, sources)
            if p not in out:
                out.append(p)
    return tuple(out)


# --- decisions -----------------------------------------------------------------------------

State = Literal["apply", "waived", "na"]


@dataclass(frozen=True)
class Decision:
    """Whether a control applies to a host, and why not when it does not."""

    control: Control
    state: State
    reason: str = ""
    waiver: Waiver | None = None

    @property
    def active(self) -> bool:
        return self.state == "apply"


def waiver_for(waivers: tuple[Waiver, ...] | list[Waiver], cid: str, today: date) -> tuple[Waiver | None, str]:
    """The waiver that counts for ``cid`` today, and a note about expired ones.

    A waiver counts up to and including its ``expires`` date; after that the control counts
    again and the note says the waiver expired.
    """
    note = ""
    for w in waivers:
        if w.control != cid:
            continue
        if w.expires >= today:
            return w, ""
        note = f"waiver expired on {w.expires.isoformat()} (approved by {w.approver}); the control counts again"
    return None, note


def decide(hv: HostVars, today: date, controls: tuple[Control, ...] = CONTROLS) -> dict[str, Decision]:
    """Per-control decision for one host: apply, waived (unexpired waiver) or not applicable."""
    known = {c.id for c in controls}
    for w in hv.waivers:
        if w.control not in known:
            raise ConfigError(f"{hv.name}: hardening.waivers: unknown control '{w.control}'",
                              hint="see 'simpul harden controls' for the IDs")
    out: dict[str, Decision] = {}
    for c in controls:
        na = _not_applicable(hv, c)
        if na:
            out[c.id] = Decision(c, "na", na)
            continue
        found, note = waiver_for(hv.waivers, c.id, today)
        if found is not None:
            out[c.id] = Decision(c, "waived", f"{found.reason} (approved by {found.approver}, until "
                                              f"{found.expires.isoformat()})", found)
        else:
            out[c.id] = Decision(c, "apply", note)
    return out


def _not_applicable(hv: HostVars, c: Control) -> str:
    if hv.profile == "none":
        return "hardening.profile is 'none' for this host"
    if c.profile == "strict" and hv.profile != "strict":
        return f"strict profile only (host profile: {hv.profile})"
    if c.id == "SYS-06" and hv.ip_forward:
        return "host routes or runs containers (inventory hardening.ip_forward: true)"
    if c.id == "LOG-02":
        if not hv.log_host:
            return "organisation.log_host is not set"
        if hv.is_log_host:
            return "this host is the log host (it receives logs, see LOG-03)"
        if hv.log_host_ip is None:
            return f"log host '{hv.log_host}' is not a server in the inventory"
    if c.id == "LOG-03" and not hv.is_log_host:
        return "only on the log host (organisation.log_host)"
    if c.id == "TIME-01" and not hv.ntp_servers:
        return "organisation.ntp_servers is empty"
    return ""
