"""Router facts: version, interfaces and addresses, OSPF neighbours, routes, uptime.

``collect(inv, names, known_hosts)`` logs in to every router in parallel through the project
runner (:func:`simpul.runner.run_each`) and returns one :class:`~simpul.results.Result` per
router; ``Result.value`` holds the parsed facts (:data:`simpul.network.parse.Facts`), e.g.::

    results = collect(inv, ["core-1", "desa-kemloko"], known_hosts_path(settings.state_dir))
    for r in results:
        if r.ok:
            for ifname, itf in r.value["interfaces"].items():
                print(r.target, ifname, itf["addresses"], itf["up"])

An unreachable router is an ``unreachable`` result with the reason; the others carry on.
Parsing is in :mod:`simpul.network.parse` (FRR JSON, ntc-templates TextFSM, own parsers only
for the gaps). This signature is stable: ``simpul ipam reconcile`` builds on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each

from .connection import Session, SessionLost, open_session
from .parse import FACT_COMMANDS, Facts, facts_to_json, parse_facts
from .platforms import platform_of

log = logging.getLogger(__name__)

HELPER = "simpul-helper"
"""Non-interactive command prefix the lab's Linux+FRR routers route to their device helper."""


def helper_reply(rc: int, out: str, err: str) -> tuple[int, str, str]:
    """The device helper's own (exit code, output, error) from what the router's login shell
    relayed: the helper's exit code on the first line, then its output (or its error). When the
    relay itself failed (``rc`` != 0: the router's helper service does not run), its error."""
    if rc != 0:
        why = (err.strip().splitlines() or [f"exit {rc}"])[-1]
        return rc, "", f"the router's device helper service does not answer ({why[:200]})"
    head, sep, body = out.partition("\n")
    if not sep or not head.strip().isdigit():
        return 1, "", f"unexpected answer from the device helper: {out[:120]!r}"
    code = int(head)
    return (0, body, err) if code == 0 else (code, "", (body + err).strip())


def device_facts(s: Session) -> Facts:
    """Facts of the router behind an open session (raises on transport/parse errors)."""
    plat = s.platform.name
    outputs = {c: s.show(c) for c in FACT_COMMANDS[plat]}
    if plat == "huawei":
        outputs["_prompt"] = s.conn.find_prompt().strip("<>[]")
    facts = parse_facts(plat, outputs)
    if plat == "frr" and facts["uptime_seconds"] is None:
        facts["uptime_seconds"] = frr_uptime(s)
    return facts


def frr_uptime(s: Session) -> int | None:
    """FRR has no uptime command; a Linux+FRR router's device helper reports how long the
    routing daemons have run. None when the router has no helper."""
    try:
        rc, out, _ = helper_reply(*s.exec(f"{HELPER} facts", timeout=10))
    except SessionLost:
        return None
    if rc != 0:
        return None
    try:
        v = json.loads(out).get("uptime_seconds")
    except ValueError:
        return None
    return int(v) if isinstance(v, int | float) else None


def collect_one(inv: Inventory, name: str, known_hosts: Path, *, timeout: float = 10.0) -> Result:
    """Facts of one router as a Result (``value`` = facts, ``data`` = their JSON form)."""
    platform_of(inv, name)  # unsupported platform: a clear failed result, no login attempt
    with open_session(inv, name, known_hosts, timeout=timeout) as s:
        facts = device_facts(s)
    n_up = sum(1 for i in facts["interfaces"].values() if i["up"])
    n_full = sum(1 for n in facts["ospf_neighbors"].values() if n["state"].startswith("Full"))
    msg = (f"{facts['version']}; {n_up}/{len(facts['interfaces'])} interfaces up; "
           f"{n_full} OSPF neighbour(s) Full; {len(facts['routes'])} routes")
    return Result(name, Status.OK, msg, data=facts_to_json(facts), value=facts)


def collect(inv: Inventory, names: Sequence[str], known_hosts: Path, *, parallel: int = 20,
            timeout: float = 10.0, hooks: Sequence[Hook] = ()) -> list[Result]:
    """Facts of every router in ``names`` (in that order), ``parallel`` logins at a time."""
    return run_each(list(names), lambda n: collect_one(inv, n, known_hosts, timeout=timeout),
                    parallel=parallel, hooks=hooks)
