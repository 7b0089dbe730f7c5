"""Link impairment for drills: cut a link, restore it, make it slow and lossy.

This kernel has no ``sch_netem`` (LAB-FACTS), so the lab uses what works:

- **loss**: an nftables ``netdev`` table per link end, hooked on the interface's ingress, drops
  ``numgen random`` packets — each direction loses the given percentage;
- **rate**: a ``tbf`` qdisc on each end's egress (98.7 % of nominal measured on this kernel);
- **down/up**: ``ip link set down|up`` on both ends (OSPF sees it at once; for the WAN the two
  site switches lose each other).

Everything happens inside the lab namespaces; the root namespace is never touched. The applied
settings are kept in ``<state>/links.json`` so ``simpul lab status`` can show them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from . import netns as nx
from .state import LabState
from .topology import LinkPlan, Topology

log = logging.getLogger(__name__)

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(k|m|g)?(bit|bps)?\s*$", re.I)


@dataclass(frozen=True)
class LinkState:
    up: bool = True
    loss: float = 0.0
    rate_mbit: float | None = None


def parse_rate(text: str) -> float:
    """``"10mbit"`` → 10.0 (Mbit/s); ``"512kbit"`` → 0.512; ``"1g"`` → 1000.0."""
    m = _RATE.match(text)
    if not m:
        raise nx.LabError(f"rate '{text}' is not understood; write e.g. 10mbit, 512kbit or 1gbit")
    value, unit, suffix = float(m.group(1)), (m.group(2) or "").lower(), (m.group(3) or "bit")
    mult = {"": 1e-6, "k": 1e-3, "m": 1.0, "g": 1e3}[unit]
    if suffix.lower() == "bps":
        mult *= 8  # tc's "bps" means bytes per second
    if value <= 0:
        raise nx.LabError("rate must be positive")
    return value * mult


def _table(ifname: str) -> str:
    return "slab_loss_" + re.sub(r"[^A-Za-z0-9_]", "_", ifname)


def set_loss(ns: str, ifname: str, percent: float) -> None:
    """Drop ``percent`` % of the packets arriving on ``ifname`` in ``ns`` (0 removes the rule)."""
    if not 0 <= percent <= 100:
        raise nx.LabError(f"loss must be between 0 and 100 %, not {percent}")
    table = _table(ifname)
    script = f"table netdev {table} {{}}\ndelete table netdev {table}\n"
    if percent > 0:
        threshold = round(percent * 100)  # per 10 000: 0.01 % resolution
        rule = "counter drop" if threshold >= 10000 else \
            f"numgen random mod 10000 < {threshold} counter drop"
        script += (f'table netdev {table} {{\n chain ingress {{\n'
                   f'  type filter hook ingress device "{ifname}" priority 0; policy accept;\n'
                   f'  {rule}\n }}\n}}\n')
    nx.run(["nft", "-f", "-"], ns=ns, input=script)


def set_rate(ns: str, ifname: str, mbit: float | None) -> None:
    """Shape ``ifname``'s egress to ``mbit`` Mbit/s with tbf (None removes the shaper)."""
    if mbit is None:
        nx.run(["tc", "qdisc", "del", "dev", ifname, "root"], ns=ns, check=False)
        return
    bits = mbit * 1e6
    burst = max(int(bits / 8 / 100), 16 * 1024)  # ~10 ms of data, at least 16 KiB
    nx.run(["tc", "qdisc", "replace", "dev", ifname, "root", "tbf", "rate", f"{int(bits)}bit",
            "burst", str(burst), "latency", "50ms"], ns=ns)


def _ends(link: LinkPlan) -> list[tuple[str, str]]:
    return [(link.a_ns, link.a_if), (link.b_ns, link.b_if)]


def load_states(st: LabState) -> dict[str, LinkState]:
    try:
        raw = json.loads(st.links_file.read_text())
        return {k: LinkState(**v) for k, v in raw.items()}
    except (OSError, ValueError, TypeError):
        return {}


def _save(st: LabState, states: dict[str, LinkState]) -> None:
    st.links_file.write_text(json.dumps({k: asdict(v) for k, v in sorted(states.items())},
                                        indent=1) + "\n")


def get_link(topo: Topology, name: str) -> LinkPlan:
    try:
        return topo.links[name]
    except KeyError as e:
        raise nx.LabError(f"no lab link named '{name}'",
                          hint="links: " + ", ".join(sorted(topo.links))) from e


def apply(st: LabState, link: LinkPlan, state: LinkState) -> None:
    """Make ``link`` match ``state`` on both ends and record it."""
    _apply_live(link, state)
    states = load_states(st)
    states[link.name] = state
    _save(st, states)


def apply_many(st: LabState, items: list[tuple[LinkPlan, LinkState]],
               parallel: Callable[[Callable[[Any], None], list[Any]], None]) -> None:
    """:func:`apply` for many links at once (``parallel`` runs the kernel side)."""
    parallel(lambda item: _apply_live(*item), items)
    states = load_states(st)
    states.update({link.name: state for link, state in items})
    _save(st, states)


def _apply_live(link: LinkPlan, state: LinkState) -> None:
    for ns, ifname in _ends(link):
        if not nx.netns_exists(ns):
            raise nx.LabError(f"link {link.name}: namespace {ns} does not exist",
                              hint="run 'simpul lab up'")
        set_loss(ns, ifname, state.loss)
        set_rate(ns, ifname, state.rate_mbit)
        (nx.link_up if state.up else nx.link_down)(ifname, ns)
    log.info("link %s: %s, loss %.2f %%, rate %s", link.name, "up" if state.up else "down",
             state.loss, f"{state.rate_mbit} Mbit/s" if state.rate_mbit else "unlimited")


def default_state(link: LinkPlan) -> LinkState:
    """What ``up`` applies: radio links get their nominal rate and a little loss."""
    if link.medium == "radio":
        return LinkState(True, link.default_loss, link.bandwidth_mbps)
    return LinkState()


def set_up(st: LabState, topo: Topology, name: str, up: bool) -> LinkState:
    link = get_link(topo, name)
    cur = load_states(st).get(name, default_state(link))
    new = LinkState(up, cur.loss, cur.rate_mbit)
    apply(st, link, new)
    return new


def degrade(st: LabState, topo: Topology, name: str, *, loss: float | None,
            rate_mbit: float | None, clear: bool = False) -> LinkState:
    """Change loss and/or rate of link ``name``; ``clear`` removes both first."""
    link = get_link(topo, name)
    cur = LinkState(load_states(st).get(name, default_state(link)).up) if clear else \
        load_states(st).get(name, default_state(link))
    new = LinkState(cur.up, cur.loss if loss is None else loss,
                    cur.rate_mbit if rate_mbit is None else rate_mbit)
    apply(st, link, new)
    return new


def live_state(link: LinkPlan) -> str:
    """``up``/``down`` as the kernel sees the ``a`` end (``?`` if it does not exist)."""
    cp = nx.ip(["-o", "link", "show", "dev", link.a_if], link.a_ns, check=False)
    if cp.returncode != 0:
        return "?"
    flags = cp.stdout.split("<", 1)[-1].split(">", 1)[0].split(",")
    return "up" if "UP" in flags else "down"
