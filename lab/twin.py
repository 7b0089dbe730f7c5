"""The twin: boot FRR configs as throwaway routers in private namespaces and report OSPF
adjacency and reachability — a lab API (docs/lab.md, "The twin").

``simpul net push --preflight`` and ``simpul net verify`` use it to try a change before any
real router sees it: the intended configs of the routers being pushed and of their neighbours
(FRR renders the same intent for every platform) are booted as real FRR routers, cabled as the
inventory says, and asked whether OSPF comes up and the Pusat Data answers a ping.

Isolation (nothing of the twin reaches the host, the shared lab or the world):

- namespaces ``stwin<k>-<i>`` (slot ``k`` 0–7 held with ``/run/lock/simpul-twin-<k>.lock``, so
  several twins and the shared lab's ``slab-*`` run side by side); FRR pathspaces
  ``/etc/frr/stwin<k>-<i>`` (a symlink into the twin's own dir) and ``/run/frr/stwin<k>-<i>``;
- **no management LAN and no cable to the root namespace**: the only veths join twin
  namespaces to each other (or a namespace to itself, for a stub LAN), so any address — also a
  production one — stays inside; FRR is reached with ``vtysh -N`` from the root namespace;
- config lines that name host files (``log file``, ``dump``) are dropped from the given
  configs (a running config copied from a lab router must not write into the lab's files);
- stopped with SIGKILL by PID (``ip netns pids``; watchfrr first): no FRR shutdown delay and no
  graceful-restart file in the host's ``/run/frr``. :func:`cleanup` finds what a killed twin
  left (by prefix, for every slot whose lock is free) and removes it.

Example::

    routers = [TwinRouter("a", frr_a, stubs=("lan0",)), TwinRouter("b", frr_b)]
    links = [TwinLink("a-b", "a", "eth0", "b", "eth0")]
    report = check(routers, links, [Probe("a", IPv4Address("10.0.0.2"), None)])
    report.adjacency["a-b"]   # ("Full", "Full")
    report.reach              # [(Probe(...), True)]

Needs root (network namespaces).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from simpul.results import Result, Status
from simpul.runner import run_each

from . import netns as nx
from . import routers as lab_routers
from .topology import IFNAMSIZ

log = logging.getLogger(__name__)

PREFIX = "stwin"
"""Namespace and FRR pathspace prefix of every twin (never ``slab-``, the shared lab's)."""
SLOTS = 8
DEFAULT_DIR = Path("/var/lib/simpul/twin")
RUN_NETNS = Path("/run/netns")
_HOST_FILE_LINES = re.compile(r"^\s*(log file\b|dump\b)")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
STUB_PEER = "twstub"
"""Name prefix of the inside end of a stub LAN's veth pair (reserved in twin configs)."""


def twin_dir() -> Path:
    """``$SIMPUL_TWIN_DIR`` or ``/var/lib/simpul/twin``: one sub-directory per busy slot."""
    return Path(os.environ.get("SIMPUL_TWIN_DIR") or DEFAULT_DIR)


class TwinError(nx.LabError):
    """The twin could not be built (not: the configs failed — that is in the report)."""


@dataclass(frozen=True)
class TwinRouter:
    """One throwaway router: its FRR config and the interfaces that get a stub LAN."""

    name: str
    frr_conf: str
    stubs: tuple[str, ...] = ()
    """Interfaces with no peer in the twin that must exist (LANs): a veth pair inside."""


@dataclass(frozen=True)
class TwinLink:
    """A cable between two twin routers (Linux interface names)."""

    name: str
    a: str
    a_if: str
    b: str
    b_if: str


@dataclass(frozen=True)
class Probe:
    """Ping ``target`` from twin router ``router`` (source address ``source``, if given)."""

    router: str
    target: IPv4Address
    source: IPv4Address | None = None


@dataclass
class TwinReport:
    """What the twin saw. ``adjacency``: link -> (state at a, state at b) of the OSPF neighbour
    on that link ("" = none); ``reach``: each probe and whether it answered."""

    config_errors: dict[str, list[str]] = field(default_factory=dict)
    adjacency: dict[str, tuple[str, str]] = field(default_factory=dict)
    reach: list[tuple[Probe, bool]] = field(default_factory=list)
    boot_seconds: float = 0.0
    seconds: float = 0.0
    slot: int | None = None

    def full(self, link: str) -> bool:
        a, b = self.adjacency.get(link, ("", ""))
        return a.startswith("Full") and b.startswith("Full")


def validate(routers: Sequence[TwinRouter], links: Sequence[TwinLink]) -> None:
    """Refuse a twin that cannot be built (pure): unknown routers, bad or reused interface names."""
    names = [r.name for r in routers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TwinError(f"twin: router(s) given twice: {', '.join(dup)}")
    used: dict[tuple[str, str], str] = {}
    for r in routers:
        for s in r.stubs:
            _check_if(r.name, s, "stub LAN")
            if (r.name, s) in used:
                raise TwinError(f"twin: {r.name}:{s} is used twice")
            used[(r.name, s)] = "stub LAN"
    known = set(names)
    for link in links:
        for dev, ifname in ((link.a, link.a_if), (link.b, link.b_if)):
            if dev not in known:
                raise TwinError(f"twin link {link.name}: {dev} is not a twin router")
            _check_if(dev, ifname, f"link {link.name}")
            if (dev, ifname) in used:
                raise TwinError(f"twin link {link.name}: {dev}:{ifname} is already used by "
                                f"{used[(dev, ifname)]}")
            used[(dev, ifname)] = f"link {link.name}"


def _check_if(router: str, ifname: str, what: str) -> None:
    if (not _IFNAME.match(ifname) or len(ifname) > IFNAMSIZ or ifname in ("lo", "all", "default")
            or ifname.startswith(STUB_PEER)):
        raise TwinError(f"twin: {router}: {what} interface name '{ifname}' is not a usable Linux "
                        f"interface name (1-{IFNAMSIZ} of A-Z a-z 0-9 _ . -)")


def sanitize(frr_conf: str) -> str:
    """The config without lines that name host files (``log file``, ``dump``) (pure)."""
    return "".join(ln for ln in frr_conf.splitlines(keepends=True) if not _HOST_FILE_LINES.match(ln))




class Twin(nx.UpDown):
    """A running twin (context manager): ``up()`` boots, ``close()`` removes everything."""

    def __init__(self, routers: Sequence[TwinRouter], links: Sequence[TwinLink], *,
                 base: Path | None = None) -> None:
        validate(routers, links)
        self.routers = list(routers)
        self.links = list(links)
        self.base = base or twin_dir()
        self.slot: int | None = None
        self._lock_fd: int | None = None
        self.ns: dict[str, str] = {}
        self.config_errors: dict[str, list[str]] = {}
        self.boot_seconds = 0.0

    # -- lifecycle (with Twin(...) as tw: up on entry, close on exit) ----------------------------

    @property
    def dir(self) -> Path:
        if self.slot is None:
            raise TwinError("the twin is not up")
        return self.base / str(self.slot)

    def _take_slot(self) -> None:
        self.slot, self._lock_fd = nx.take_slot("twin", SLOTS)

    def up(self) -> None:
        if os.geteuid() != 0:
            raise TwinError("the twin needs root (network namespaces, FRR)", hint="run it with sudo")
        t0 = time.monotonic()
        self._take_slot()
        _clean_slot(self.base, self.slot or 0)  # what a killed twin of this slot left
        k = self.slot or 0
        self.ns = {r.name: f"{PREFIX}{k}-{i}" for i, r in enumerate(self.routers)}
        self.dir.mkdir(parents=True, exist_ok=True)
        for p in (self.base, self.dir):
            p.chmod(0o755)  # FRR (user frr) reads its config below this dir
        (self.dir / "twin.json").write_text(json.dumps(
            {"owner_pid": os.getpid(), "routers": self.ns}, indent=1) + "\n")
        if not nx.is_mountpoint(RUN_NETNS):
            (self.dir / "made-run-netns-mount").write_text("")
        # 1. the configs, checked by vtysh's own parser (no daemons needed)
        for r in self.routers:
            fd, log_file = self.dir / self.ns[r.name] / "frr", self.dir / self.ns[r.name] / "frr.log"
            lab_routers.write_frr_dir(fd, r.name, f"log file {log_file} informational\n"
                                      + sanitize(r.frr_conf), log_file=log_file)
            errors = _dry_run(fd / "frr.conf")
            if errors:
                self.config_errors[r.name] = errors
        # 2. namespaces and cables: only between twin namespaces, never to the root namespace
        for r in self.routers:
            ns = self.ns[r.name]
            nx.add_netns(ns)
            # ospfd joins AllSPFRouters on every OSPF interface through one socket; Linux allows
            # 20 memberships per socket by default, so a core with more links stays silent on
            # the 21st and later ones (seen: a 30-link core of the example kabupaten)
            nx.sysctl("net.ipv4.igmp_max_memberships", "1024", ns)
            for j, s in enumerate(r.stubs):  # no 'dummy' module in this kernel: a veth pair inside
                nx.add_veth(s, f"{STUB_PEER}{j}", ns_a=ns, ns_b=ns)
                nx.link_up(f"{STUB_PEER}{j}", ns)
                nx.link_up(s, ns)
        for link in self.links:
            a, b = self.ns[link.a], self.ns[link.b]
            nx.add_veth(link.a_if, link.b_if, ns_a=a, ns_b=b)
            nx.link_up(link.a_if, a)
            nx.link_up(link.b_if, b)
        # 3. FRR in each namespace, in parallel through the core runner
        for r in self.routers:
            lab_routers.link_etc(self.ns[r.name], self.dir / self.ns[r.name] / "frr")

        def start(r: TwinRouter) -> Result:
            lab_routers.start_frr(self.ns[r.name], r.name)
            nx.wait_for(lambda: (lab_routers.FRR_RUN / self.ns[r.name] / "ospfd.vty").exists(),
                        timeout=20, what=f"twin {r.name}: ospfd")
            return Result(r.name, Status.OK)

        bad = [x for x in run_each(self.routers, start, name=lambda r: r.name, parallel=8) if not x.ok]
        if bad:
            raise TwinError("twin: FRR did not start: " + "; ".join(f"{x.target}: {x.message}" for x in bad))
        self.boot_seconds = round(time.monotonic() - t0, 2)

    def close(self) -> None:
        """Stop every twin process by PID, remove namespaces, FRR paths and files; release the slot."""
        if self.slot is not None:
            _clean_slot(self.base, self.slot)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- asking the routers --------------------------------------------------------------------

    def vtysh(self, router: str, command: str) -> str:
        return lab_routers.vtysh(self.ns[router], command)

    def ospf_neighbors(self, router: str) -> dict[str, dict[str, str]]:
        """Neighbour router-id -> {"state", "interface"} (``show ip ospf neighbor json``)."""
        return lab_routers.ospf_neighbor_table(self.ns[router])

    def adjacency(self) -> dict[str, tuple[str, str]]:
        """Per link: the OSPF neighbour state seen on that link's interface at each end."""
        seen = {r.name: self.ospf_neighbors(r.name) for r in self.routers}

        def on(router: str, ifname: str) -> str:
            return next((n["state"] for n in seen[router].values() if n["interface"] == ifname), "")

        return {link.name: (on(link.a, link.a_if), on(link.b, link.b_if)) for link in self.links}

    def wait_adjacency(self, timeout: float) -> dict[str, tuple[str, str]]:
        """Poll until every link is Full at both ends, or until no link came up for ``timeout``
        s (a big twin on a busy machine keeps converging for longer; a broken link never
        does); the last states."""
        deadline = time.monotonic() + timeout
        best = -1
        while True:
            adj = self.adjacency()
            full = sum(1 for a, b in adj.values() if a.startswith("Full") and b.startswith("Full"))
            if full == len(adj):
                return adj
            if full > best:
                best, deadline = full, time.monotonic() + timeout
            if time.monotonic() > deadline:
                return adj
            time.sleep(0.2)

    def ping(self, probe: Probe, *, timeout: float = 5.0) -> bool:
        """True if ``probe.target`` answers from ``probe.router`` within ``timeout`` s (retried:
        a route may still be on its way after the adjacency came up)."""
        cmd = ["ping", "-n", "-q", "-c", "1", "-W", "1"]
        if probe.source is not None:
            cmd += ["-I", str(probe.source)]
        cmd.append(str(probe.target))
        deadline = time.monotonic() + timeout
        while True:
            if nx.run(cmd, ns=self.ns[probe.router], check=False, timeout=10).returncode == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def _dry_run(conf: Path) -> list[str]:
    """Lines FRR's parser rejects (``vtysh -C``: a syntax check, no daemons)."""
    cp = nx.run(["vtysh", "-C", "-f", str(conf)], check=False, timeout=30)
    if cp.returncode == 0:
        return []
    out = [ln.strip() for ln in (cp.stdout + cp.stderr).replace("line ", "\nline ").splitlines()
           if ln.strip().startswith("line ")]
    return out or [(cp.stderr or cp.stdout).strip()[:300] or f"vtysh -C exit {cp.returncode}"]


def check(routers: Sequence[TwinRouter], links: Sequence[TwinLink], probes: Sequence[Probe], *,
          timeout: float = 10.0, base: Path | None = None) -> TwinReport:
    """Boot ``routers`` cabled by ``links``, wait for OSPF on every link (giving up when no
    adjacency came up for ``timeout`` s), run ``probes``, tear everything down; return what was seen. Raises :class:`TwinError` only
    if the twin itself could not be built."""
    t0 = time.monotonic()
    with Twin(routers, links, base=base) as tw:
        adj = tw.wait_adjacency(timeout)
        # routes follow a Full adjacency within ~0.5 s (SPF throttle 0/50 ms); when some link
        # never came up, the network has had its chance: one quick try per probe
        converged = all(a.startswith("Full") and b.startswith("Full") for a, b in adj.values())
        reach = [(p, tw.ping(p, timeout=3.0 if converged else 0.5)) for p in probes]
        rep = TwinReport(dict(tw.config_errors), adj, reach, tw.boot_seconds, 0.0, tw.slot)
    rep.seconds = round(time.monotonic() - t0, 2)
    return rep


# --- cleanup (also after a crash) -----------------------------------------------------------------


def _slot_of(name: str) -> int | None:
    m = re.match(rf"^{PREFIX}(\d+)-", name)
    return int(m.group(1)) if m else None


def _clean_slot(base: Path, slot: int) -> list[str]:
    """Remove every trace of twin slot ``slot``: processes (SIGKILL by PID, watchfrr first),
    namespaces, FRR paths, its directory. Returns what was removed."""
    mine = f"{PREFIX}{slot}-"
    removed: list[str] = []
    namespaces = [n for n in nx.list_netns() if n.startswith(mine)]
    for ns in namespaces:
        lab_routers.stop_namespace_processes(ns, grace=5.0, hard=True)
    for ns in namespaces:
        nx.del_netns(ns)
        removed.append(f"namespace {ns}")
    for ns in lab_routers.lab_frr_namespaces(mine):
        lab_routers.remove_frr_paths(ns, prefix=mine)
        removed.append(f"FRR paths of {ns}")
    d = base / str(slot)
    if d.is_dir():
        made_mount = (d / "made-run-netns-mount").exists()
        shutil.rmtree(d, ignore_errors=True)
        removed.append(f"directory {d}")
        if made_mount and nx.is_mountpoint(RUN_NETNS) and not any(RUN_NETNS.iterdir()):
            nx.run(["umount", str(RUN_NETNS)], check=False)
    return removed


def cleanup(*, base: Path | None = None) -> list[str]:
    """Remove what killed twins left (every slot whose lock nobody holds); running twins are
    left alone. Safe any time. Returns what was removed."""
    base = base or twin_dir()
    slots = {s for n in nx.list_netns() if (s := _slot_of(n)) is not None}
    slots |= {s for n in lab_routers.lab_frr_namespaces(PREFIX) if (s := _slot_of(n)) is not None}
    if base.is_dir():
        slots |= {int(p.name) for p in base.iterdir() if p.name.isdigit()}
    removed: list[str] = []
    for k in sorted(slots):
        fd = nx.try_slot("twin", k)
        if fd is None:
            log.info("twin slot %d is in use by a running twin; left alone", k)
            continue
        try:
            removed += _clean_slot(base, k)
        finally:
            os.close(fd)
    return removed


def leftovers() -> dict[str, list[str]]:
    """Every twin trace on the machine: namespaces, FRR paths, processes in twin namespaces."""
    namespaces = [n for n in nx.list_netns() if n.startswith(PREFIX)]
    procs = []
    for ns in namespaces:
        with contextlib.suppress(nx.LabError):
            procs += [f"{ns}:{p}" for p in nx.netns_pids(ns)]
    return {"namespaces": namespaces, "frr_paths": lab_routers.lab_frr_namespaces(PREFIX),
            "processes": procs}
