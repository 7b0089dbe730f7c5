"""Diff and push router configs with commit-confirm: many routers in parallel, one Result each.

``push`` on one router (:func:`push_one`), with ``apply``:

1. **pre-check** — the router answers; its config is saved (running = startup, else someone's
   hand change would be saved or lost with ours); its OSPF neighbours are recorded; the Pusat
   Data is reachable from it (a router that cannot prove the post-check now is not touched);
2. **a way back** — the driver's checkpoint and a revert timer on the device (FRR: the device
   helper; Cisco: archive + revert timer; Huawei: commit trial; MikroTik: scheduled revert);
3. **only the diff** is applied;
4. **post-check over a fresh SSH login** — management still reachable from the NOC (that fresh
   SSH login, and SNMP if it answered before), the OSPF neighbours that were Full are Full again,
   the Pusat Data still reachable;
5. **confirm** over that fresh login and save — or **roll back**: at once through the pushing
   session if it still works, otherwise the device's timer does it (a cut session, an ACL that
   locks the NOC out). Either way the result says "rolled back" and why.

Every router is independent: :func:`push` fans out through :func:`simpul.runner.run_each`; a
failing or unreachable router never stops the others. The operations log is written by the CLI
through a runner hook, not here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from simpul.errors import SimpulError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each

from .connection import CommandRejected, SessionLost, open_session
from .drivers import Change, Driver, DriverError, PostCheck, driver_for
from .intent import DeviceIntent, pusat_data_targets
from .render import render
from .snmpcheck import snmp_answers

log = logging.getLogger(__name__)


@dataclass
class PushOptions:
    apply: bool = False
    revert_in: int = 60
    """Seconds before the device restores itself unless the push is confirmed."""
    confirm: bool = True
    """Commit-confirm with the fresh-login post-check. False: apply + save only (benchmarks)."""
    allow_unsaved: bool = False
    preflight: bool = False
    """Boot the pushed routers and their neighbours in the twin first; refuse the whole push
    (nothing sent to any router) if the twin fails (:mod:`simpul.network.preflight`)."""
    twin_timeout: float = 10.0
    chunk: int = 50
    timeout: float = 10.0
    post_login_timeout: float = 6.0
    step: Callable[[str, str], None] | None = None
    """Called with (router, what happened) at each stage (progress; tests cut sessions here)."""


def _step(opts: PushOptions, name: str, msg: str) -> None:
    log.info("%s: %s", name, msg)
    if opts.step:
        opts.step(name, msg)


def plan_one(inv: Inventory, name: str, known_hosts: Path, *, timeout: float = 10.0) -> Result:
    """Intended vs running of one router: CHANGED with the commands a push would send, or OK."""
    rendered = render(inv, name)
    with open_session(inv, name, known_hosts, timeout=timeout) as s:
        change = driver_for(s, inv).compare(rendered)
    return _plan_result(name, change)


def _plan_result(name: str, change: Change) -> Result:
    if change.empty:
        return Result(name, Status.OK, "in sync with the intended config", data={"lines": 0})
    return Result(name, Status.CHANGED, change.config.summary() + (f"; host: {len(change.host)} action(s)"
                                                                    if change.host else ""),
                  data={"lines": change.line_count(), "commands": change.config.commands,
                        "host": change.host, "removed": change.config.removed,
                        "added": change.config.added},
                  diff=change.text(), value=change)


def _full(drv: Driver) -> dict[str, str]:
    return {rid: n.get("interface", "") for rid, n in drv.ospf_neighbors().items()
            if n["state"].startswith("Full")}


def _pd_targets(inv: Inventory, t: DeviceIntent) -> list[IPv4Address]:
    return [x for x in pusat_data_targets(inv) if x != t.router_id]


def _names(inv: Inventory) -> dict[str, str]:
    return {str(d.loopback): n for n, d in inv.devices.items() if d.loopback}


def push_one(inv: Inventory, name: str, known_hosts: Path, opts: PushOptions) -> Result:
    """Push the intended config to one router (see the module docstring for the steps)."""
    t0 = time.monotonic()
    rendered = render(inv, name)
    t = rendered.intent
    s1 = open_session(inv, name, known_hosts, timeout=opts.timeout)
    try:
        drv = driver_for(s1, inv)
        pd = _pd_targets(inv, t)
        drv.prefetch([(x, t.router_id) for x in pd], precheck=opts.apply and opts.confirm)
        running = drv.get_config("running")
        change = drv.compare(rendered, running)
        if change.empty or not opts.apply:
            return _plan_result(name, change)
        data = {"lines": change.line_count(), "commands": change.config.commands, "host": change.host}
        if not opts.confirm:
            drv._send(change.config.commands, None, opts.chunk)
            if hasattr(drv, "helper"):
                for h in change.host:
                    drv.helper(*h.split())
            drv.save()
            return Result(name, Status.CHANGED, f"pushed {change.line_count()} line(s) without "
                          "commit-confirm; saved", data=data, diff=change.text())
        # 1. pre-check
        unsaved = drv.unsaved(running)
        if not unsaved.empty and not opts.allow_unsaved:
            return Result(name, Status.FAILED, "pre-check failed: the router has unsaved changes "
                          f"({unsaved.summary()}); see 'simpul net drift', save or revert them "
                          "first (or --allow-unsaved)", data=data | {"unsaved": unsaved.commands})
        before = _full(drv)
        snmp_before = snmp_answers(inv, name)
        for x in pd:
            if not drv.ping(x, t.router_id):
                return Result(name, Status.FAILED, f"pre-check failed: the Pusat Data ({x}) is not "
                              f"reachable from {name} before the push (link down?); not touching a "
                              "router whose post-check could not pass", data=data)
        _step(opts, name, f"pre-check ok: {len(before)} OSPF neighbour(s) Full, Pusat Data reachable"
              + {True: ", SNMP answers", False: ", SNMP does not answer (not checked after)",
                 None: ""}[snmp_before])
        # 2.+3. way back, then only the diff
        try:
            cid = drv.commit_config(change, revert_in=opts.revert_in,
                                    step=lambda m: _step(opts, name, m), chunk=opts.chunk)
        except CommandRejected as e:
            how = _rollback_now_or_wait(inv, name, known_hosts, drv, _checkpoint_of(drv), opts)
            return Result(name, Status.FAILED, f"rolled back ({how}): the router rejected "
                          f"'{e.command.strip()}'", data=data, diff=change.text())
        except (SessionLost, DriverError) as e:
            how = _wait_for_timer(inv, name, known_hosts, None, opts)
            return Result(name, Status.FAILED, f"rolled back ({how}): the pushing session was lost "
                          f"during the change ({e})", data=data, diff=change.text())
        _step(opts, name, f"applied {change.line_count()} line(s); post-check over a fresh login")
        # 4.+5. post-check over a fresh login, confirmed over it only if it passed, then saved
        wait = 2 * t.ospf_dead + 3
        problem: str | None
        try:
            s2 = open_session(inv, name, known_hosts, timeout=opts.post_login_timeout, exec_only=True)
        except UnreachableError as e:
            problem = (f"management from the NOC is lost: a fresh SSH login failed ({e.reason}); "
                       "the change would lock the NOC out")
        else:
            with s2:
                d2 = driver_for(s2, inv)
                try:
                    if snmp_before and not snmp_answers(inv, name):
                        raise _Lost(f"management from the NOC is lost: SNMP from the NOC no longer "
                                    f"answers ({inv.devices[name].mgmt_ip}); the change would "
                                    "leave the router unmonitored")
                    pc = d2.post_check_confirm(cid, list(before), [(x, t.router_id) for x in pd], wait,
                                               ospf_from=drv if s1.alive() else None)
                    problem = _problem(inv, name, pc, before, wait)
                    if problem is None:
                        # the pushing session's CLI is still open: saving there costs no new
                        # process on the router; the fresh login saves if it was cut meanwhile
                        (drv if s1.alive() else d2).save()
                except DriverError as e:
                    state = d2.rollback_state(cid)
                    if state is not None:
                        why = (f"the push took longer than --revert-in {opts.revert_in} s"
                               if "timer expired" in state else "the confirm came too late")
                        return Result(name, Status.FAILED, f"rolled back (by the router itself: "
                                      f"{state}): {why} ({e.message})",
                                      data=data | {"checkpoint": cid}, diff=change.text())
                    problem = f"the post-check could not run over the fresh login ({e})"
                except _Lost as e:
                    problem = str(e)
                except SimpulError as e:
                    problem = f"the post-check could not run over the fresh login ({e})"
        if problem:
            how = _rollback_now_or_wait(inv, name, known_hosts, drv, cid, opts)
            return Result(name, Status.FAILED, f"rolled back ({how}): post-check failed: {problem}",
                          data=data | {"checkpoint": cid}, diff=change.text())
        _step(opts, name, "confirmed over a fresh login; saved")
        return Result(name, Status.CHANGED, f"pushed {change.line_count()} line(s); post-check "
                      "passed over a fresh login; confirmed and saved",
                      data=data | {"checkpoint": cid, "seconds_total": round(time.monotonic() - t0, 2)},
                      diff=change.text())
    finally:
        s1.close()


def _checkpoint_of(drv: Driver) -> str | None:
    armed = drv.armed() if hasattr(drv, "armed") else None
    return str(armed["id"]) if armed else None


class _Lost(Exception):
    """A post-check finding that ends the post-check (the message is the reason)."""


def _problem(inv: Inventory, name: str, pc: PostCheck, before: dict[str, str], wait: float) -> str | None:
    """The post-check's finding in words (None: passed)."""
    if pc.missing:
        names = _names(inv)
        who = ", ".join(f"{names.get(r, r)} ({r}) on {before.get(r, '?')}" for r in sorted(pc.missing))
        return f"OSPF neighbour(s) {who} were Full before the push and did not come back within {wait} s"
    if pc.unreachable:
        return f"the Pusat Data ({pc.unreachable[0]}) is no longer reachable from {name}"
    return None


def _rollback_now_or_wait(inv: Inventory, name: str, known_hosts: Path, drv: Driver,
                          cid: str | None, opts: PushOptions) -> str:
    """Roll back through the pushing session if it works; else wait for the device's timer."""
    if cid is not None:
        try:
            drv.rollback(cid)
            _step(opts, name, f"rolled back checkpoint {cid} through the pushing session")
            return "at once, through the pushing session"
        except (SessionLost, DriverError) as e:
            log.warning("%s: rollback through the pushing session failed (%s); waiting for the "
                        "device's timer", name, e)
    return _wait_for_timer(inv, name, known_hosts, cid, opts)


def _wait_for_timer(inv: Inventory, name: str, known_hosts: Path, cid: str | None,
                    opts: PushOptions) -> str:
    """Wait until the device's revert timer has restored it (checked over fresh logins)."""
    deadline = time.monotonic() + opts.revert_in + 30
    last = "no fresh login succeeded"
    while time.monotonic() < deadline:
        try:
            with open_session(inv, name, known_hosts, timeout=opts.post_login_timeout) as s:
                d = driver_for(s, inv)
                armed = d.armed() if hasattr(d, "armed") else None
                if not armed:
                    state = d.rollback_state(cid) if cid else None
                    _step(opts, name, f"device timer restored the router: {state or 'no change pending'}")
                    return f"by the router's own timer: {state}" if state else "by the router's own timer"
                last = f"rollback still armed (checkpoint {armed.get('id')})"
        except SimpulError as e:
            last = str(e)
        time.sleep(1.0)
    raise DriverError(f"{name}: the router did not confirm its rollback within {opts.revert_in + 30} s "
                      f"({last}); check it by hand")


def plan(inv: Inventory, names: Sequence[str], known_hosts: Path, *, parallel: int = 20,
         hooks: Sequence[Hook] = (), timeout: float = 10.0) -> list[Result]:
    return run_each(list(names), lambda n: plan_one(inv, n, known_hosts, timeout=timeout),
                    parallel=parallel, hooks=hooks)


def push(inv: Inventory, names: Sequence[str], known_hosts: Path, opts: PushOptions, *,
         parallel: int = 20, hooks: Sequence[Hook] = ()) -> list[Result]:
    """Push ``names`` in parallel (one Result each). With ``opts.preflight`` the twin runs
    first; if it fails for any router, no router is contacted: the failing ones are FAILED with
    the twin's reasons, the others SKIPPED, and every result has ``data["twin_refused"]``."""
    names = list(names)
    twin: dict[str, Result] = {}
    if opts.apply and opts.preflight:
        from .preflight import preflight

        _step(opts, ",".join(names), "booting the twin")
        verdict = preflight(inv, names, timeout=opts.twin_timeout)
        twin = {r.target: r for r in verdict}
        bad = [r.target for r in verdict if not r.ok]
        if bad:
            refused = {n: refusal(twin[n], bad) for n in names}
            return run_each(names, lambda n: refused[n], parallel=parallel, hooks=hooks)

    def task(n: str) -> Result:
        r = push_one(inv, n, known_hosts, opts)
        if n in twin:
            r.data["twin"] = twin[n].message
        return r

    return run_each(names, task, parallel=parallel, hooks=hooks)


def refusal(twin: Result, bad: Sequence[str]) -> Result:
    """The push result of a router when the twin refused the push (nothing was sent)."""
    data = twin.data | {"twin_refused": True, "lines": 0}
    if not twin.ok:
        return Result(twin.target, Status.FAILED, "refused by the pre-push twin, nothing sent: "
                      + twin.message.removeprefix("twin: "), data=data)
    return Result(twin.target, Status.SKIPPED, f"not pushed: the pre-push twin refused this push "
                  f"({', '.join(bad)} failed); nothing was sent to any router", data=data)
