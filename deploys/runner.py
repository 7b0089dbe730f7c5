"""Run the hardening deploys through the pyinfra API: ``plan`` (dry run) and ``apply``.

:func:`harden_host` plans or applies on one host and returns its :class:`Result`; the core
runner (:func:`simpul.runner.run_each`) fans it out. Each host gets its own pyinfra ``State``
in its own runner thread (pyinfra's context objects are greenlet-local, hence thread-local
without gevent monkey-patching), so one failing host never stops the others. Before pyinfra
touches a host, :func:`simpul.ssh.preflight` over a fresh, host-key-pinned login checks
reachability, the key and ``sudo -n`` — pyinfra itself would prompt for a sudo password on a
terminal, which a NOC cron job cannot answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from simpul.deploys import catalog
from simpul.deploys.families import HardenContext, harden_all
from simpul.deploys.hostvars import decide, host_vars
from simpul.deploys.ops import ConfirmFn, Recorder
from simpul.errors import AuthError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each
from simpul.ssh import Target, preflight, public_key_line, run, server_target

log = logging.getLogger(__name__)

Mode = Literal["plan", "apply"]
REFS = [catalog.JAMBI_OS, catalog.JAMBI_FW, catalog.TMG_14, catalog.iso("A.8.9", "A.8.32")]


@dataclass(frozen=True)
class Overrides:
    """Knobs beside the inventory (the normal source of every value): the guard's confirm
    window, and extra sshd options for an emergency (validated like any sshd change)."""

    sshd_extra: Mapping[str, str] = field(default_factory=dict)
    guard_timeout: int = 90


class _PerThread(threading.local):
    module: Any = None


def thread_local_pyinfra_context() -> None:
    """Make pyinfra's global ``state``/``inventory`` context per OS thread.

    pyinfra keeps the current State in a process-global slot (the current host is already
    greenlet-local). One State per host, each in its own thread, needs that slot per thread; the
    greenlets pyinfra spawns inside a thread run in that thread and see the same State.
    """
    from pyinfra.context import ctx_inventory, ctx_state

    for cm in (ctx_state, ctx_inventory):
        if not isinstance(cm.context._container, _PerThread):
            cm.context._container = _PerThread()


def make_confirm(t: Target) -> ConfirmFn:
    """The guard's controller side: a fresh login + ``sudo -n simpul-guard confirm UNIT``."""

    def confirm(unit: str) -> None:
        rc, _, err = run(t, f"/usr/local/sbin/simpul-guard confirm {unit}", sudo=True, timeout=20)
        if rc != 0:
            raise AuthError(t.name, f"fresh login worked but sudo/confirm failed (exit {rc}): "
                                    f"{err.strip()[:200]}")
        log.info("%s: %s confirmed by a fresh login", t.name, unit)

    return confirm


def pyinfra_state(t: Target) -> Any:
    """One pyinfra State for one server over the SSH edge's Target (host keys pinned, no agent,
    no retries); every deploy in deploys/ (hardening, backups, the DRC cluster) uses this one."""
    from pyinfra.api.config import Config
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.state import State

    data = {"ssh_hostname": t.host, "ssh_port": t.port, "ssh_user": t.user,
            "ssh_key": str(t.key_file), "ssh_known_hosts_file": str(t.known_hosts),
            "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False,
            "ssh_look_for_keys": False, "ssh_connect_retries": 0}
    inventory = Inventory(([(t.name, data)], {}))  # type: ignore[no-untyped-call]
    config = Config(SUDO=t.become, CONNECT_TIMEOUT=int(t.timeout), PARALLEL=1)  # type: ignore[no-untyped-call]
    return State(inventory=inventory, config=config, check_for_changes=True)


def harden_host(inv: Inventory, name: str, mode: Mode, known_hosts: Path, *, today: date,
                overrides: Overrides | None = None) -> Result:
    """Plan or apply the hardening on one host.

    ``data``: ``mode``, ``changes`` (one dict per planned change: op, controls, detail),
    ``changed_ops`` (apply), ``confined``. Status CHANGED when something changes (or would),
    FAILED with the reason (a refused lock-out-prone change, a failed operation),
    UNREACHABLE when the host cannot be reached. Unexpected errors propagate to the runner.
    """
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops
    from pyinfra.context import ctx_host, ctx_state

    ov = overrides or Overrides()
    res = Result(name, Status.OK, data={"mode": mode, "changes": [], "changed_ops": 0,
                                        "confined": False})
    hv = host_vars(inv, name)
    t = server_target(inv, name, known_hosts)
    decisions = decide(hv, today)
    facts = preflight(t)
    res.data["confined"] = facts.confined
    state = pyinfra_state(t)
    host = state.inventory.get_host(name)
    rec = Recorder()
    state.simpul_recorder = rec
    try:
        with ctx_state.use(state), ctx_host.use(host):
            try:
                host.connect(raise_exceptions=True, show_errors=False)
            except Exception as e:  # pyinfra ConnectError: wrap once with the host name
                raise UnreachableError(name, f"pyinfra could not connect: {e}") from e
            state.activate_host(host)
            ctx = HardenContext(hv=hv, decisions=decisions, facts=facts,
                                pubkey=public_key_line(t.key_file),
                                confirm=make_confirm(t) if mode == "apply" else None,
                                sshd_extra=ov.sshd_extra, guard_timeout=ov.guard_timeout,
                                today=today)
            harden_all(ctx)
            res.data["changes"] = [c.to_dict() for c in rec.changes]
            if mode == "apply":
                try:
                    run_ops(state)
                except PyinfraError as e:
                    log.debug("%s: pyinfra: %s", name, e)
                res.data["changed_ops"], failure = _outcome(state, host)
                if rec.guard_failures:
                    failure = "; ".join(rec.guard_failures) + (f"; {failure}" if failure else "")
                if failure:
                    res.status, res.message = Status.FAILED, failure
            if rec.refusals:
                res.status = Status.FAILED
                res.message = "; ".join([*rec.refusals, *([res.message] if res.message else [])])
            with _suppress():
                host.disconnect()
    except PyinfraError as e:
        res.status, res.message = Status.FAILED, f"pyinfra: {e}"
    if res.status is Status.OK and res.data["changes"]:
        res.status = Status.CHANGED
    if res.status is Status.OK and mode == "apply" and res.data["changed_ops"]:
        res.status = Status.CHANGED
    res.diff = "\n".join(f"~ {c['op']}\n{c['detail']}".rstrip() for c in res.data["changes"])
    log.info("%s: %s %s (%d changes)", name, mode, res.status, len(res.data["changes"]))
    return res


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def _outcome(state: Any, host: Any) -> tuple[int, str]:
    """(number of operations that changed something, first failure or "")."""
    changed = 0
    failure = ""
    for op_hash in state.get_op_order():
        if op_hash not in state.ops[host]:
            continue
        meta = state.ops[host][op_hash].operation_meta
        names = ", ".join(sorted(state.get_op_meta(op_hash).names))
        if not meta.is_complete():
            if not failure and host in state.failed_hosts:
                continue
            continue
        if meta.did_error():
            if not failure:
                detail = " ".join(meta.stderr_lines[-3:] or meta.stdout_lines[-3:]).strip()
                failure = f"operation '{names}' failed" + (f": {detail[:300]}" if detail else "")
        elif meta.did_change():
            changed += 1
    return changed, failure


def run_hosts(inv: Inventory, names: Sequence[str], mode: Mode, known_hosts: Path, *,
              today: date | None = None, parallel: int = 10, overrides: Overrides | None = None,
              hooks: Sequence[Hook] = ()) -> list[Result]:
    """Plan or apply on ``names`` through the core runner; one :class:`Result` per host."""
    day = today or date.today()
    thread_local_pyinfra_context()
    return run_each(names, lambda n: harden_host(inv, n, mode, known_hosts, today=day,
                                                 overrides=overrides),
                    parallel=parallel, hooks=hooks)


def controls_changed(result: Result) -> list[str]:
    """The control IDs whose operations changed (or would change) on the host."""
    return sorted({c for ch in result.data.get("changes", []) for c in ch["controls"]})
