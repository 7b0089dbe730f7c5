"""Bring the whole lab up, tear it down, report its status.

``up(inv)`` executes the :mod:`topology` plan: management LAN, switches and WAN, routers (FRR,
sshd, snmpd), NOC services, servers; waits for OSPF to converge; publishes ``ssh_config`` and
``known_hosts``. Every step checks what exists first, so ``up`` twice is harmless and ``up``
after a half-finished ``up`` completes it.

``down()`` needs no inventory: it finds the lab by its name prefixes, pidfiles and the marks
``up`` left in the state dir, so it also cleans up after a crash — and touches nothing else.

Example::

    from simpul.inventory.loader import load_inventory
    from simpul.lab import orchestrate
    report = orchestrate.up(load_inventory("inventory/lab"))
    rows = orchestrate.status(load_inventory("inventory/lab"))
    orchestrate.down()
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address, ip_network
from pathlib import Path
from typing import Any

from simpul import labinfo
from simpul.errors import UsageError
from simpul.inventory.loader import load_inventory
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import run_each

from . import netns as nx
from . import noc, routers, wan
from . import servers as lab_servers
from .image import ensure_image
from .state import (
    LabState,
    ensure_dirs,
    ensure_host_key,
    ensure_secrets,
    lab_dir,
    write_ssh_client_files,
)
from .topology import (
    LAB_RANGE,
    MGMT_BRIDGE,
    MGMT_IF,
    PREFIX,
    ROOT_IF_PREFIX,
    SWITCH_BRIDGE,
    LinkPlan,
    RouterPlan,
    ServerPlan,
    Topology,
    plan,
    short_id,
)

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
RUN_NETNS = Path("/run/netns")
DEFAULT_INVENTORY = Path(__file__).resolve().parents[1] / "inventory" / "lab"
DEFAULT_IMAGE_CACHE = Path("/var/cache/simpul/lab")


def _noop(_: str) -> None:
    return None


def default_inventory() -> Path:
    return Path(os.environ.get("SIMPUL_LAB_INVENTORY") or DEFAULT_INVENTORY)


def image_cache() -> Path:
    return Path(os.environ.get("SIMPUL_LAB_IMAGE_CACHE") or DEFAULT_IMAGE_CACHE)


def state(root: Path | None = None) -> LabState:
    return LabState(root or lab_dir())


@contextlib.contextmanager
def _locked(st: LabState) -> Iterator[None]:
    st.root.mkdir(parents=True, exist_ok=True)
    with open(st.root / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise nx.LabError("another 'simpul lab' command is running on this state dir") from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise nx.LabError("the lab needs root (network namespaces, FRR, sshd)",
                          hint="run it with sudo")


def _label(item: Any) -> str:
    return str(getattr(item, "name", item))


def _parallel(fn: Callable[[Any], None], items: list[Any], workers: int = 8) -> None:
    """Run ``fn`` on every item through the core runner; raise :class:`LabError` naming every
    item that failed (the others are done: ``up`` is idempotent, so a re-run completes it)."""

    def task(item: Any) -> Result:
        fn(item)
        return Result(_label(item), Status.OK)

    bad = [r for r in run_each(items, task, name=_label, parallel=workers) if not r.ok]
    if bad:
        raise nx.LabError("; ".join(f"{r.target}: {r.message}" for r in bad))


# --- the root namespace ----------------------------------------------------------------------


def _root_routes() -> list[str]:
    return nx.ip(["-4", "route", "show", "table", "all"]).stdout.splitlines()


def _check_root_ns(topo: Topology) -> None:
    """Refuse to build if the host routes a network the lab uses (we would shadow it)."""
    used = [*topo.used_networks(), topo.mgmt_net]
    for line in _root_routes():
        words = line.split()
        if not words or f"dev {MGMT_BRIDGE}" in line:
            continue
        if words[0] == "unreachable" and words[1:2] == [str(LAB_RANGE)]:
            continue  # ours, from a previous (possibly crashed) up
        dst = words[1] if words[0] in _ROUTE_TYPES else words[0]
        try:
            net = ip_network(dst, strict=False)
        except ValueError:
            continue  # "default" and friends
        if net.version != 4 or not (net.overlaps(LAB_RANGE) or net.overlaps(topo.mgmt_net)):
            continue
        if words[0] == "local" or any(net.overlaps(u) for u in used):
            raise nx.LabError(f"the host already routes {net} ('{line.strip()}'), which the lab "
                              "uses", hint="the lab will not shadow a network the machine uses")
        log.info("lab: host route %s lies in the lab range but is not used by the lab; kept", net)


_ROUTE_TYPES = ("unreachable", "blackhole", "prohibit", "local", "broadcast", "unicast",
                "throw", "anycast", "multicast", "nat")


def _nameservers() -> list[IPv4Address]:
    out = []
    with contextlib.suppress(OSError):
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            w = line.split()
            if len(w) >= 2 and w[0] == "nameserver":
                with contextlib.suppress(ValueError):
                    a = ip_address(w[1])
                    if isinstance(a, IPv4Address):
                        out.append(a)
    return out


def _keep_host_paths(st: LabState, topo: Topology) -> None:
    """Keep the host's own services in the lab range reachable under the unreachable route.

    A machine's resolver may sit inside 10.199.0.0/16 (it does on some CI runners). Before the
    lab shadows that range, pin a /32 for each such nameserver along its current path, and
    record it so ``down`` removes exactly those routes.
    """
    used = topo.used_networks()
    added = []
    for ns_ip in _nameservers():
        if ns_ip not in LAB_RANGE:
            continue
        if any(ns_ip in u for u in used):
            raise nx.LabError(f"the host's nameserver {ns_ip} is an address the lab uses",
                              hint="renumber the lab inventory")
        if nx.ip(["route", "show", "exact", f"{ns_ip}/32"]).stdout.strip():
            continue
        got = nx.ip(["-o", "route", "get", str(ns_ip)]).stdout.split()
        if "unreachable" in got[:1] or ("via" not in got and "dev" not in got):
            continue
        spec = []
        for key in ("via", "dev"):
            if key in got:
                spec += [key, got[got.index(key) + 1]]
        nx.ip(["route", "add", f"{ns_ip}/32", *spec])
        added.append(f"{ns_ip}/32 {' '.join(spec)}")
    if added:
        mark = st.mark("host-routes")
        old = mark.read_text().splitlines() if mark.exists() else []
        mark.write_text("\n".join([*old, *added]) + "\n")


def _remove_host_paths(st: LabState) -> None:
    mark = st.mark("host-routes")
    if not mark.exists():
        return
    for line in mark.read_text().splitlines():
        if line.strip():
            nx.ip(["route", "del", *line.split()], check=False)
    mark.unlink()


def _root_setup(st: LabState, topo: Topology) -> None:
    if not nx.is_mountpoint(RUN_NETNS) and not st.mark("run-netns-mount").exists():
        # 'ip netns add' turns /run/netns into a shared bind mount; undo it on down
        st.mark("run-netns-mount").write_text("created by simpul lab up\n")
    _keep_host_paths(st, topo)
    cp = nx.ip(["route", "show", "type", "unreachable", str(LAB_RANGE)], check=False)
    if str(LAB_RANGE) not in cp.stdout:
        nx.ip(["route", "add", "unreachable", str(LAB_RANGE)])
    nx.add_bridge(MGMT_BRIDGE)
    nx.addr_add(MGMT_BRIDGE, str(topo.mgmt_gateway))


def _mgmt_port(ns: str, root_if: str, ip: str, prefixlen: int) -> None:
    nx.add_veth(MGMT_IF, root_if, ns_a=ns)
    nx.addr_add(MGMT_IF, f"{ip}/{prefixlen}", ns)
    nx.link_up(MGMT_IF, ns)
    nx.set_master(root_if, MGMT_BRIDGE)


_GUARD = """table inet slab_guard {}
delete table inet slab_guard
table inet slab_guard {
 chain forward {
  type filter hook forward priority 0; policy accept;
  iifname "mgmt0" drop
  oifname "mgmt0" drop
 }
}
"""


def _wire_router(r: RouterPlan, topo: Topology) -> None:
    nx.add_netns(r.netns)
    _mgmt_port(r.netns, r.mgmt_root_if, str(r.mgmt_ip), topo.mgmt_net.prefixlen)
    # the management LAN is out of band: a router never forwards into or out of it
    nx.run(["nft", "-f", "-"], ns=r.netns, input=_GUARD)
    for i in r.interfaces:
        if i.kind != "lan":
            continue
        if r.lan_switch and i.name == "lan0":
            peer = "r" + short_id("", r.name)[len(ROOT_IF_PREFIX):]
            nx.add_veth(i.name, peer, ns_a=r.netns, ns_b=r.lan_switch)
            nx.set_master(peer, SWITCH_BRIDGE, r.lan_switch)
        else:
            # no 'dummy' module in this kernel: a stub LAN is a veth pair inside the router
            peer = "st-" + i.name[:12]
            nx.add_veth(i.name, peer, ns_a=r.netns, ns_b=r.netns)
            nx.link_up(peer, r.netns)
        nx.link_up(i.name, r.netns)


def _wire_server(s: ServerPlan, topo: Topology) -> None:
    nx.add_netns(s.netns)
    _mgmt_port(s.netns, s.mgmt_root_if, str(s.mgmt_ip), topo.mgmt_net.prefixlen)
    nx.add_veth("eth0", s.switch_port, ns_a=s.netns, ns_b=s.switch)
    nx.set_master(s.switch_port, SWITCH_BRIDGE, s.switch)
    nx.addr_add("eth0", str(s.address), s.netns)
    nx.link_up("eth0", s.netns)
    if s.gateway is not None:
        nx.ip(["route", "replace", "default", "via", str(s.gateway), "dev", "eth0"], s.netns)
    for net in s.onlink:  # the other sites on the segment, without a router (topology.py)
        nx.ip(["route", "replace", str(net), "dev", "eth0", "src", str(s.address.ip)], s.netns)


def _wire_link(link: LinkPlan, topo: Topology) -> None:
    nx.add_veth(link.a_if, link.b_if, ns_a=link.a_ns, ns_b=link.b_ns)
    if link.a_ns in topo.switches.values():
        nx.set_master(link.a_if, SWITCH_BRIDGE, link.a_ns)
        nx.set_master(link.b_if, SWITCH_BRIDGE, link.b_ns)
        if link.isolated:
            nx.set_isolated(link.a_if, link.a_ns)
            nx.set_isolated(link.b_if, link.b_ns)


def _wire(st: LabState, topo: Topology) -> None:
    """Create namespaces and cables; independent pieces in parallel (``ip`` is ~5 ms a call)."""
    for sw in topo.switches.values():
        nx.add_netns(sw)
        nx.add_bridge(SWITCH_BRIDGE, sw)
    _parallel(lambda r: _wire_router(r, topo), list(topo.routers.values()))
    _parallel(lambda link: _wire_link(link, topo), list(topo.links.values()))
    _parallel(lambda s: _wire_server(s, topo), list(topo.servers.values()))
    states = wan.load_states(st)
    wan.apply_many(st, [(link, states.get(link.name, wan.default_state(link)))
                        for link in topo.links.values()], parallel=_parallel)


# --- up --------------------------------------------------------------------------------------


@dataclass
class UpReport:
    seconds: float
    routers: int
    servers: int
    servers_skipped: bool
    ospf_seconds: float
    steps: dict[str, float] = field(default_factory=dict)


def wait_ospf(topo: Topology, timeout: float = 30) -> float:
    """Wait until every router has all its point-to-point neighbours Full; return seconds."""
    t0 = time.monotonic()
    want = {n: sum(1 for i in r.interfaces if i.kind == "link") for n, r in topo.routers.items()}
    pending = {n for n, k in want.items() if k}

    def done() -> bool:
        for n in list(pending):
            nbrs = routers.ospf_neighbors(topo.routers[n])
            if sum(1 for s in nbrs.values() if s.startswith("Full")) >= want[n]:
                pending.discard(n)
        return not pending

    nx.wait_for(done, timeout=timeout, what="OSPF full adjacency on every router", step=0.1)
    return time.monotonic() - t0


def _server_spec(st: LabState, inv: Inventory, s: ServerPlan) -> lab_servers.ServerSpec:
    srv = inv.servers[s.name]
    return lab_servers.ServerSpec(
        name=s.name, netns=s.netns, hostname=s.name, mgmt_ip=str(s.mgmt_ip),
        ssh_user=srv.ssh.user, authorized_key=st.deploy_key.with_suffix(".pub").read_text().strip(),
        host_key_dir=st.hostkey_dir(s.name), snmp_community=st.secret("snmp-community"),
        snmp_user=(srv.snmp.user if srv.snmp and srv.snmp.user else "simpul"),
        snmp_auth=st.secret("snmp-auth"), snmp_priv=st.secret("snmp-priv"),
        snmp_allowed_from=str(inv.organisation.noc_ranges[0]))


def _publish(st: LabState, inv: Inventory, topo: Topology, with_servers: bool) -> None:
    hosts: dict[str, tuple[str, str, str]] = {}
    for n, r in topo.routers.items():
        hosts[n] = (str(r.mgmt_ip), inv.devices[n].username, ensure_host_key(st, n))
    if with_servers:
        for n, s in topo.servers.items():
            ensure_host_key(st, n)
            keys = [" ".join(p.read_text().split()[:2])
                    for p in sorted(st.hostkey_dir(n).glob("ssh_host_*_key.pub"))]
            hosts[n] = (str(s.mgmt_ip), inv.servers[n].ssh.user, "\n".join(keys))
    write_ssh_client_files(st, hosts)


def up(inv: Inventory | None = None, *, st: LabState | None = None,
       progress: Progress = _noop, servers: bool = True) -> UpReport:
    """Build the lab described by ``inv`` (default: ``inventory/lab``). Idempotent."""
    _require_root()
    inv = inv or load_inventory(default_inventory())
    st = st or state()
    topo = plan(inv)
    t0 = time.monotonic()
    steps: dict[str, float] = {}

    def step(name: str) -> None:
        steps[name] = round(time.monotonic() - t0, 2)
        progress(name)

    with _locked(st):
        step("checking the host")
        _check_root_ns(topo)
        ensure_dirs(st)
        ensure_secrets(st)
        with_servers = servers and bool(topo.servers)
        for n in [*topo.routers, *topo.servers]:
            ensure_host_key(st, n)
        image: Path | None = None
        if with_servers:
            step("server image (built once, then cached)")
            image = ensure_image(image_cache())
        step("wiring namespaces, management LAN, links and switches")
        _root_setup(st, topo)
        _wire(st, topo)
        step(f"starting {len(topo.routers)} routers (FRR, sshd, snmpd, device helper)")
        routers.ensure_privsep_dir(st)
        routers.note_gr_state(st)
        routers.ensure_user(st)
        noc_range = str(inv.organisation.noc_ranges[0])
        _parallel(lambda r: routers.start_router(st, r, noc_range=noc_range),
                  list(topo.routers.values()))
        step("starting NOC services (InfluxDB, VictoriaMetrics)")
        for svc in noc.SERVICES:
            noc.start(st, svc)
        if with_servers and image is not None:
            step(f"booting {len(topo.servers)} servers")
            st.servers.mkdir(exist_ok=True)
            specs = [_server_spec(st, inv, s) for s in topo.servers.values()]
            _parallel(lambda spec: lab_servers.start_server(spec, image, st.root), specs, workers=4)
        step("waiting for routers and OSPF")
        _parallel(lambda r: routers.wait_ready(st, r), list(topo.routers.values()))
        ospf_s = wait_ospf(topo)
        for svc in noc.SERVICES:
            noc.wait_healthy(svc)
        step("publishing ssh_config, known_hosts and the lab's facts")
        _publish(st, inv, topo, with_servers)
        _publish_facts(st, inv, topo)
        elapsed = time.monotonic() - t0
        steps["done"] = round(elapsed, 2)
    return UpReport(round(elapsed, 2), len(topo.routers), len(topo.servers) if with_servers else 0,
                    False, round(ospf_s, 2), steps)


def probe_netns(inv: Inventory, topo: Topology) -> str | None:
    """The lab's NOC probe point: the core router's namespace.

    The desa loopbacks (10.199.x) exist only inside the lab and the root namespace must not
    route there (the lab installs ``unreachable 10.199.0.0/16``); the core router stands where a
    NOC host stands in production, so ICMP probes of the data plane run in its namespace.
    """
    core = next((n for n, d in inv.devices.items() if d.role == "core"), None)
    return topo.routers[core].netns if core in topo.routers else None


def _publish_facts(st: LabState, inv: Inventory, topo: Topology) -> None:
    """What other domains may know of the running lab, without importing it (simpul.labinfo)."""
    labinfo.write({
        "inventory": str(Path(inv.source).resolve()) if inv.source else None,
        "probe_netns": probe_netns(inv, topo),
        "sinks": [svc.sink for svc in noc.SERVICES if svc.sink],
        "ssh_config": str(st.ssh_config),
        "known_hosts": str(st.known_hosts),
        "state_dir": str(st.root),
    })


def reset(inv: Inventory | None = None, names: list[str] | None = None, *,
          st: LabState | None = None, progress: Progress = _noop) -> list[str]:
    """Give servers ``names`` (default: every lab server) a fresh disk: stop, wipe the
    overlay, and — when the lab is up — boot again. Host keys are kept (known_hosts stays valid).

    ``lab down`` + ``lab up`` keeps each server's changes on purpose (that is a reboot);
    this is the way back to a server as the image made it. Returns the names reset.
    """
    _require_root()
    inv = inv or load_inventory(default_inventory())
    st = st or state()
    topo = plan(inv)
    chosen = list(names or topo.servers)
    unknown = [n for n in chosen if n not in topo.servers]
    if unknown:
        raise UsageError(f"not a lab server: {', '.join(unknown)}",
                         hint=f"lab servers: {', '.join(topo.servers)}")
    with _locked(st):
        running = bool(lab_namespaces())
        image = ensure_image(image_cache()) if running else None
        progress(f"resetting {len(chosen)} server(s)")
        for n in chosen:
            lab_servers.reset_server(n, st.root)
        if running and image is not None:
            progress(f"booting {len(chosen)} fresh server(s)")
            specs = [_server_spec(st, inv, topo.servers[n]) for n in chosen]
            _parallel(lambda spec: lab_servers.start_server(spec, image, st.root), specs, workers=4)
    return chosen


# --- down ------------------------------------------------------------------------------------


@dataclass
class DownReport:
    seconds: float
    namespaces: list[str]
    problems: list[str]


def lab_namespaces() -> list[str]:
    return [n for n in nx.list_netns() if n.startswith(f"{PREFIX}-")]


def _close_control_masters(st: LabState) -> None:
    if not st.control_dir.is_dir():
        return
    for sock in st.control_dir.iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "lab-host"],
                       capture_output=True, timeout=10, check=False)
        sock.unlink(missing_ok=True)


def down(*, st: LabState | None = None, progress: Progress = _noop) -> DownReport:
    """Remove everything the lab created; safe to run any time (also after a crash)."""
    _require_root()
    st = st or state()
    t0 = time.monotonic()
    problems: list[str] = []
    namespaces = lab_namespaces()
    with _locked(st):
        labinfo.remove()
        server_names = sorted({n[len(f"{PREFIX}-s-"):] for n in namespaces
                               if n.startswith(f"{PREFIX}-s-")}
                              | ({p.name for p in st.servers.iterdir() if p.is_dir()}
                                 if st.servers.is_dir() else set()))
        if server_names:
            progress(f"stopping {len(server_names)} servers")
            stopped = run_each(server_names, lambda n: _stop_server(n, st), parallel=4)
            # keep tearing down; report what failed at the end
            problems += [f"server {r.target}: {r.message}" for r in stopped if not r.ok]
        progress("closing ssh control connections")
        _close_control_masters(st)
        progress(f"stopping processes in {len(namespaces)} namespaces")
        _parallel(routers.stop_namespace_processes, namespaces, workers=16)
        progress("stopping NOC services")
        noc.stop_all(st)
        progress("removing namespaces, links and routes")
        for ns in namespaces:
            left = nx.netns_pids(ns)
            if left:
                nx.kill_pids(left, grace=2)
            nx.del_netns(ns)
            if nx.netns_exists(ns):
                problems.append(f"namespace {ns} could not be removed")
        for link in nx.links():
            if link.startswith(ROOT_IF_PREFIX) or link == MGMT_BRIDGE:
                nx.del_link(link)
        cp = nx.ip(["route", "show", "type", "unreachable", str(LAB_RANGE)], check=False)
        if str(LAB_RANGE) in cp.stdout:
            nx.ip(["route", "del", "unreachable", str(LAB_RANGE)], check=False)
        _remove_host_paths(st)
        for ns in routers.lab_frr_namespaces():
            routers.remove_frr_paths(ns)
        routers.remove_user(st)
        routers.remove_gr_state(st)
        routers.remove_privsep_dir(st)
        if st.mark("run-netns-mount").exists():
            if nx.is_mountpoint(RUN_NETNS) and not any(RUN_NETNS.iterdir()):
                nx.run(["umount", str(RUN_NETNS)], check=False)
            st.mark("run-netns-mount").unlink(missing_ok=True)
        st.links_file.unlink(missing_ok=True)
    elapsed = round(time.monotonic() - t0, 2)
    if problems:
        raise nx.LabError("lab down left problems: " + "; ".join(problems))
    return DownReport(elapsed, namespaces, problems)


def _stop_server(name: str, st: LabState) -> Result:
    lab_servers.stop_server(name, st.root)
    return Result(name, Status.OK)


# --- status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostStatus:
    name: str
    kind: str
    address: str
    netns: str
    running: bool
    ssh: bool
    snmp: bool


def ssh_banner(ip: str, port: int = 22, timeout: float = 2.0) -> bool:
    """True if an SSH server answers with its banner on ``ip:port``."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def snmp_ok(st: LabState, ip: str, timeout: float = 2.0) -> bool:
    """``snmpget`` sysUpTime with SNMPv3 authPriv (the lab's v3 user)."""
    cp = subprocess.run(
        ["snmpget", "-v3", "-l", "authPriv", "-u", "simpul", "-a", "SHA", "-A",
         st.secret("snmp-auth"), "-x", "AES", "-X", st.secret("snmp-priv"), "-m", "", "-t",
         str(timeout), "-r", "1", "-Ovq", ip, "1.3.6.1.2.1.1.3.0"],
        capture_output=True, text=True, timeout=timeout * 3 + 2, check=False)
    return cp.returncode == 0 and bool(cp.stdout.strip())


def status(inv: Inventory | None = None, *, st: LabState | None = None) -> dict[str, Any]:
    """Every host with its address and whether SSH and SNMP answer; NOC services; links."""
    inv = inv or load_inventory(default_inventory())
    st = st or state()
    topo = plan(inv)
    try:
        have_secrets = (st.secrets / "snmp-auth").exists()
    except PermissionError:  # not root: the secrets dir is 0700
        have_secrets = False

    def is_running(name: str, kind: str, ns: str) -> bool:
        if not nx.netns_exists(ns):
            return False
        if kind == "router":
            return routers.frr_running(topo.routers[name])
        return bool(lab_servers.server_pids(name, st.root))

    def host(item: tuple[str, str, str, str]) -> Result:
        name, kind, ip, ns = item
        running = is_running(name, kind, ns)
        ssh = running and ssh_banner(ip)
        snmp = running and have_secrets and snmp_ok(st, ip)
        hs = HostStatus(name, kind, ip, ns, running, ssh, snmp)
        return Result(name, Status.OK if ssh and snmp else Status.UNREACHABLE, value=hs)

    items = [(n, "router", str(r.mgmt_ip), r.netns) for n, r in topo.routers.items()]
    items += [(n, "server", str(s.mgmt_ip), s.netns) for n, s in topo.servers.items()]
    checked = run_each(items, host, name=lambda i: i[0], parallel=16)
    hosts = [r.value if r.value is not None else HostStatus(r.target, "?", "", "", False, False, False)
             for r in checked]
    states = wan.load_states(st)
    links = []
    for name, link in topo.links.items():
        ls = states.get(name)
        links.append({"name": name, "medium": link.medium,
                      "state": wan.live_state(link) if nx.netns_exists(link.a_ns) else "absent",
                      "loss": ls.loss if ls else None,
                      "rate_mbit": ls.rate_mbit if ls else None})
    services = [{"name": svc.name, "url": svc.url, "pid": noc.service_pid(st, svc),
                 "healthy": noc.healthy(svc)} for svc in noc.SERVICES]
    return {"state_dir": str(st.root), "up": bool(lab_namespaces()),
            "ssh_config": str(st.ssh_config),
            "hosts": [h.__dict__ for h in hosts], "links": links, "services": services}
