"""The pre-push twin: try the intended configs in throwaway FRR routers before a push.

Batfish checks a change offline but parses no MikroTik or Huawei config. Simpul instead
*runs* the change: :func:`twin_plan` (pure) takes the routers about to be pushed, adds their
neighbours, every Pusat Data router and the routers on a shortest path from each of them to
each Pusat Data router, renders every one of them as FRR from the same
:class:`~simpul.network.intent.DeviceIntent` (a Cisco, Huawei or MikroTik router gets its
intent in FRR syntax, interfaces renamed to Linux names), and cables them as ``links:`` says.
:func:`preflight` boots that with the lab's twin (:mod:`simpul.lab.twin`: private namespaces,
no cable to the host or the shared lab) and :func:`evaluate` (pure) turns what the twin saw
into one Result per pushed router:

- FRR's parser accepts the config (``vtysh -C``);
- OSPF comes up (Full at both ends) on every link from the router to a twin neighbour;
- the Pusat Data (the loopbacks of the Pusat Data routers) answers a ping sourced from the
  router's loopback; a Pusat Data router is checked the other way round (its neighbours reach
  it).

What the twin does not prove: the management ACL and the login (the commit-confirm push and
its fresh-login post-check guard those on the device), and routers outside the twin — every
twin router runs its *intended* config; a neighbour that drifted from it (``simpul net
drift``) behaves differently in reality.

Example::

    results = preflight(inv, ["desa-kemloko"])
    refused = [r for r in results if not r.ok]
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address

from simpul.errors import ConfigError
from simpul.inventory.models import Inventory
from simpul.lab.twin import Probe, TwinLink, TwinReport, TwinRouter, check
from simpul.results import Result, Status

from .intent import DeviceIntent, IfaceIntent, device_intent
from .platforms import platform_of
from .render import render_intent

log = logging.getLogger(__name__)

_LINUX_IF = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
TWIN_TIMEOUT = 10.0
"""Seconds the twin waits for OSPF on every link (hello 1 s: adjacencies form in ~1-2 s)."""


@dataclass(frozen=True)
class TwinPlan:
    """What to boot and what to check (pure data; see :func:`twin_plan`)."""

    affected: tuple[str, ...]
    routers: tuple[TwinRouter, ...]
    links: tuple[TwinLink, ...]
    probes: tuple[Probe, ...]
    probe_for: tuple[str, ...] = ()
    """The pushed router each probe checks (same order as ``probes``)."""
    renamed: dict[str, dict[str, str]] = field(default_factory=dict)
    """router -> {twin interface: inventory interface} (only where they differ)."""
    link_ends: dict[str, tuple[str, str]] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    """Pusat Data address -> the router that owns it."""
    platforms: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> list[str]:
        return [r.name for r in self.routers if r.name not in self.affected]


def _graph(inv: Inventory) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {n: set() for n in inv.devices}
    for link in inv.links.values():
        a, b = link.a.split(":", 1)[0], link.b.split(":", 1)[0]
        if a in g and b in g:
            g[a].add(b)
            g[b].add(a)
    return g


def _shortest_paths_to(g: dict[str, set[str]], dst: str) -> dict[str, str]:
    """BFS from ``dst``: node -> next hop towards ``dst`` (deterministic: sorted neighbours)."""
    nxt: dict[str, str] = {dst: dst}
    q = deque([dst])
    while q:
        n = q.popleft()
        for m in sorted(g[n]):
            if m not in nxt:
                nxt[m] = n
                q.append(m)
    return nxt


def pusat_data_routers(inv: Inventory) -> list[str]:
    pd_sites = set(inv.sites_of_type("pusat-data"))
    return sorted(n for n, d in inv.devices.items() if d.site in pd_sites)


def _target_of(t: DeviceIntent) -> IPv4Address | None:
    if t.router_id is not None and any(i.kind == "loopback" for i in t.interfaces):
        return t.router_id
    lan = next((i for i in t.interfaces if i.kind == "lan" and i.addresses), None)
    return lan.addresses[0].ip if lan else t.router_id


def _twin_names(t: DeviceIntent, link_peer: dict[str, str], in_twin: set[str]
                ) -> tuple[list[IfaceIntent], dict[str, str], list[str]]:
    """The intent's interfaces under Linux names (FRR needs them; Cisco's ``Gi0/0/0`` is not
    one), the renames (twin -> inventory), and which interfaces are stub LANs in the twin (LANs,
    and links whose peer is not in the twin)."""
    out: list[IfaceIntent] = []
    renamed: dict[str, str] = {}
    stubs: list[str] = []
    keep = t.platform == "frr"
    taken = {i.name for i in t.interfaces if keep and _LINUX_IF.match(i.name)}
    k = 0
    for i in t.interfaces:
        if i.kind == "mgmt":
            continue
        if i.kind == "loopback":
            name = "lo"
        elif keep and _LINUX_IF.match(i.name) and i.name != "lo":
            name = i.name
        else:
            while f"if{k}" in taken:
                k += 1
            name = f"if{k}"
            taken.add(name)
        if name != i.name:
            renamed[name] = i.name
        out.append(replace(i, name=name))
        if i.kind != "loopback" and not (i.kind == "link" and link_peer.get(i.name) in in_twin):
            stubs.append(name)
    return out, renamed, stubs


def twin_plan(inv: Inventory, names: Sequence[str]) -> TwinPlan:
    """Which routers to boot (as FRR), how to cable them and what to check (pure).

    Raises ConfigError if a name is not a managed router or the inventory has no router at a
    Pusat Data site (there would be nothing to reach).
    """
    affected = list(dict.fromkeys(names))
    for n in affected:
        platform_of(inv, n)
    pd = pusat_data_routers(inv)
    if not pd:
        raise ConfigError("the twin checks reachability of the Pusat Data, but no router of the "
                          "inventory is at a site of type pusat-data")
    g = _graph(inv)
    chosen: set[str] = set(affected) | set(pd)
    for n in affected:
        chosen |= g[n]
    for dst in pd:
        nxt = _shortest_paths_to(g, dst)
        for n in affected:
            cur = n
            while cur in nxt and cur != dst:
                cur = nxt[cur]
                chosen.add(cur)
    order = [n for n in inv.devices if n in chosen]
    ends: dict[tuple[str, str], tuple[str, str, str]] = {}  # (dev, if) -> (link, peer, peer if)
    for lname, link in inv.links.items():
        (da, ia), (db, ib) = link.a.split(":", 1), link.b.split(":", 1)
        ends[(da, ia)] = (lname, db, ib)
        ends[(db, ib)] = (lname, da, ia)
    intents = {n: device_intent(inv, n) for n in order}
    routers: list[TwinRouter] = []
    renamed: dict[str, dict[str, str]] = {}
    to_twin: dict[tuple[str, str], str] = {}
    for n in order:
        t = intents[n]
        peers = {i.name: ends[(n, i.name)][1] for i in t.interfaces if (n, i.name) in ends}
        ifaces, ren, stubs = _twin_names(t, peers, chosen)
        renamed[n] = ren
        back = {v: k for k, v in ren.items()}
        for i in t.interfaces:
            to_twin[(n, i.name)] = back.get(i.name, i.name)
        frr = render_intent(replace(t, platform="frr", interfaces=tuple(ifaces))).files["frr.conf"]
        routers.append(TwinRouter(n, frr, tuple(stubs)))
    links: list[TwinLink] = []
    link_ends: dict[str, tuple[str, str]] = {}
    for lname, link in inv.links.items():
        (da, ia), (db, ib) = link.a.split(":", 1), link.b.split(":", 1)
        if da in chosen and db in chosen:
            links.append(TwinLink(lname, da, to_twin[(da, ia)], db, to_twin[(db, ib)]))
            link_ends[lname] = (da, db)
    targets: dict[str, str] = {}
    for p in pd:
        addr = _target_of(intents[p])
        if addr is not None:
            targets[str(addr)] = p
    probes: list[Probe] = []
    probe_for: list[str] = []
    for n in affected:
        t = intents[n]
        own = _target_of(t)
        if n in pd and own is not None:  # a Pusat Data router: its neighbours must reach it
            for peer in sorted(g[n] & chosen - set(pd)):
                probes.append(Probe(peer, own, intents[peer].router_id))
                probe_for.append(n)
        for target, owner in targets.items():
            if owner != n:
                probes.append(Probe(n, IPv4Address(target), t.router_id))
                probe_for.append(n)
    return TwinPlan(tuple(affected), tuple(routers), tuple(links), tuple(probes), tuple(probe_for),
                    renamed, link_ends, targets, {n: inv.devices[n].platform for n in order})


def _inv_if(plan: TwinPlan, router: str, twin_if: str) -> str:
    return plan.renamed.get(router, {}).get(twin_if, twin_if)


def evaluate(plan: TwinPlan, report: TwinReport, *, timeout: float = TWIN_TIMEOUT) -> list[Result]:
    """One Result per pushed router from what the twin saw (pure): OK, or FAILED with every
    reason ("twin: no OSPF adjacency with core-1 on eth0 ...")."""
    context_problems = []
    for n in plan.context:
        if report.config_errors.get(n):
            context_problems.append(f"{n}: FRR rejects its intended config "
                                    f"({report.config_errors[n][0]})")
    for link in plan.links:
        if link.a not in plan.affected and link.b not in plan.affected and not report.full(link.name):
            context_problems.append(f"no OSPF adjacency on {link.name} ({link.a}-{link.b})")
    out = []
    for n in plan.affected:
        problems: list[str] = []
        errs = report.config_errors.get(n, [])
        if errs:
            what = "its config" if plan.platforms.get(n) == "frr" else "the FRR rendering of its intent"
            problems.append(f"FRR rejects {what}: {'; '.join(errs[:3])}")
        n_full = 0
        for link in plan.links:
            if n not in (link.a, link.b):
                continue
            mine, peer, my_if = ((0, link.b, link.a_if) if link.a == n else (1, link.a, link.b_if))
            states = report.adjacency.get(link.name, ("", ""))
            if report.full(link.name):
                n_full += 1
                continue
            seen = states[mine] or "none"
            problems.append(f"no OSPF adjacency with {peer} on {_inv_if(plan, n, my_if)} within "
                            f"{timeout:.0f} s (state: {seen})")
        reached = []
        for (probe, ok), subject in zip(report.reach, plan.probe_for, strict=True):
            if subject != n:
                continue
            if probe.router == n:
                if ok:
                    reached.append(str(probe.target))
                else:
                    problems.append(f"the Pusat Data ({probe.target}, {plan.targets.get(str(probe.target), '?')})"
                                    f" is not reachable from {n}")
            elif not ok:
                problems.append(f"{n} ({probe.target}) is not reachable from {probe.router}")
        data = {"twin": {"routers": [r.name for r in plan.routers], "context": plan.context,
                         "adjacency": {k: list(v) for k, v in report.adjacency.items()},
                         "reach": [{"from": p.router, "to": str(p.target), "ok": ok}
                                   for p, ok in report.reach],
                         "config_errors": report.config_errors, "seconds": report.seconds}}
        if problems:
            if len(problems) > 6:
                problems = [*problems[:5], f"and {len(problems) - 5} more problem(s) (see --json)"]
            if context_problems:
                problems.append("twin context: " + "; ".join(context_problems))
            out.append(Result(n, Status.FAILED, "twin: " + "; ".join(problems), data=data))
        else:
            out.append(Result(n, Status.OK, f"twin passed: {n_full} OSPF adjacenc"
                              f"{'y' if n_full == 1 else 'ies'} Full"
                              + (f", Pusat Data reachable ({', '.join(reached)})" if reached else "")
                              + f" ({len(plan.routers)} routers booted, {report.seconds:.1f} s)",
                              data=data))
    return out


def preflight(inv: Inventory, names: Sequence[str], *, timeout: float = TWIN_TIMEOUT) -> list[Result]:
    """Boot the twin for ``names`` and judge it: one Result per router (OK or FAILED).

    Raises :class:`simpul.lab.twin.TwinError` if the twin itself cannot be built (not root,
    all slots busy).
    """
    plan = twin_plan(inv, names)
    log.info("twin: booting %d routers (%s) for %s", len(plan.routers),
             ", ".join(r.name for r in plan.routers), ", ".join(plan.affected))
    report = check(plan.routers, plan.links, plan.probes, timeout=timeout)
    return evaluate(plan, report, timeout=timeout)
