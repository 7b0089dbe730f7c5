"""Run the hardening deploys through the pyinfra API: ``plan`` (dry run) and ``apply``.

Each host runs in its own thread with its own pyinfra ``State`` (pyinfra's context objects are
greenlet-local, hence thread-local without gevent monkey-patching), so hosts run in parallel and
one failing host never stops the others. Before pyinfra touches a host a preflight over a fresh,
host-key-pinned paramiko login checks reachability, the key and ``sudo -n`` — pyinfra itself
would prompt for a sudo password on a terminal, which a NOC cron job cannot answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from simpul.deploys import catalog
from simpul.deploys.connection import Target, make_confirm, public_key_line, run, target_for
from simpul.deploys.families import HardenContext, HostFacts, harden_all
from simpul.deploys.hostvars import decide, host_vars
from simpul.deploys.ops import Recorder
from simpul.errors import SimpulError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.oplog import OpLog
from simpul.results import Result, Status

log = logging.getLogger(__name__)

Mode = Literal["plan", "apply"]
REFS = [catalog.JAMBI_OS, catalog.JAMBI_FW, catalog.TMG_14, catalog.iso("A.8.9", "A.8.32")]


@dataclass(frozen=True)
class Overrides:
    """Knobs for tests and emergencies; the inventory is the normal source of every value."""

    sshd_extra: Mapping[str, str] = field(default_factory=dict)
    guard_timeout: int = 90
    noc_ranges: tuple[str, ...] | None = None  # tests: pretend the NOC is elsewhere


class _PerThread(threading.local):
    module: Any = None


def _thread_local_pyinfra_context() -> None:
    """Make pyinfra's global ``state``/``inventory`` context per OS thread.

    pyinfra keeps the current State in a process-global slot (the current host is already
    greenlet-local). One State per host, each in its own thread, needs that slot per thread; the
    greenlets pyinfra spawns inside a thread run in that thread and see the same State.
    """
    from pyinfra.context import ctx_inventory, ctx_state

    for cm in (ctx_state, ctx_inventory):
        if not isinstance(cm.context._container, _PerThread):
            cm.context._container = _PerThread()


PREFLIGHT = r"""
echo "client=${SSH_CONNECTION%% *}"
if ! sudo -n true 2>/dev/null; then echo "sudo=no"; exit 0; fi
echo "sudo=ok"
sudo -n sh -c '
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo init=systemd; else echo init=sysvinit; fi
if [ -w /proc/sys/kernel/randomize_va_space ]; then echo confined=no; else echo confined=yes; fi
/usr/sbin/sshd -T 2>/dev/null | awk "\$1==\"hostkey\"{print \"hostkey=\"\$2}"
'
"""


def preflight(t: Target) -> HostFacts:
    """Reach the host over a fresh pinned login; learn what planning needs. Raises on failure."""
    _, out, err = run(t, PREFLIGHT, timeout=30)
    kv: dict[str, list[str]] = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        kv.setdefault(k.strip(), []).append(v.strip())
    if kv.get("sudo") != ["ok"]:
        raise HostFailed(f"sudo asks {t.user} for a password; give the deploy user NOPASSWD sudo "
                         "(Simpul never stores or types sudo passwords)")
    hostkeys = kv.get("hostkey", [])
    if not hostkeys:
        raise HostFailed(f"cannot read the running sshd configuration (sshd -T): {err.strip()[:200]}")
    return HostFacts(init=kv.get("init", ["sysvinit"])[0], confined=kv.get("confined") == ["yes"],
                     host_keys=hostkeys, client_ip=(kv.get("client") or [""])[0])


class HostFailed(SimpulError):
    """One host failed; the message says why (the run carries on with the others)."""


@dataclass
class HostRun:
    name: str
    mode: Mode
    status: Status
    message: str = ""
    changes: list[dict[str, Any]] = field(default_factory=list)
    changed_ops: int = 0
    seconds: float = 0.0
    confined: bool = False

    def result(self) -> Result:
        return Result(self.name, self.status, self.message,
                      {"mode": self.mode, "changes": self.changes, "changed_ops": self.changed_ops,
                       "seconds": round(self.seconds, 2), "confined": self.confined})


def _pyinfra_state(t: Target) -> Any:
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


def run_host(inv: Inventory, name: str, mode: Mode, known_hosts: Path, *, today: date,
             overrides: Overrides | None = None) -> HostRun:
    """Plan or apply the hardening on one host. Never raises for host-level problems."""
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops
    from pyinfra.context import ctx_host, ctx_state

    ov = overrides or Overrides()
    t0 = time.monotonic()
    hr = HostRun(name, mode, Status.OK)
    try:
        hv = host_vars(inv, name)
        if ov.noc_ranges is not None:
            from dataclasses import replace
            from ipaddress import IPv4Network
            hv = replace(hv, noc_ranges=tuple(IPv4Network(n) for n in ov.noc_ranges))
        t = target_for(inv, name, known_hosts)
        decisions = decide(hv, today)
        facts = preflight(t)
        hr.confined = facts.confined
        state = _pyinfra_state(t)
        host = state.inventory.get_host(name)
        rec = Recorder()
        state.simpul_recorder = rec
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
            hr.changes = [c.to_dict() for c in rec.changes]
            if mode == "apply":
                try:
                    run_ops(state)
                except PyinfraError as e:
                    log.debug("%s: pyinfra: %s", name, e)
                hr.changed_ops, failure = _outcome(state, host)
                if rec.guard_failures:
                    failure = "; ".join(rec.guard_failures) + (f"; {failure}" if failure else "")
                if failure:
                    hr.status, hr.message = Status.FAILED, failure
            if rec.refusals:
                hr.status = Status.FAILED
                hr.message = "; ".join([*rec.refusals, *([hr.message] if hr.message else [])])
            with _suppress():
                host.disconnect()
        if hr.status is Status.OK and (hr.changes if mode == "plan" else hr.changed_ops):
            hr.status = Status.CHANGED
        if hr.status is Status.OK and hr.changes and mode == "apply":
            hr.status = Status.CHANGED
    except UnreachableError as e:
        hr.status, hr.message = Status.UNREACHABLE, e.reason
    except SimpulError as e:
        hr.status, hr.message = Status.FAILED, str(e)
    except PyinfraError as e:
        hr.status, hr.message = Status.FAILED, f"pyinfra: {e}"
    hr.seconds = time.monotonic() - t0
    log.info("%s: %s %s in %.1f s (%d changes)", name, mode, hr.status, hr.seconds, len(hr.changes))
    return hr


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
              oplog: OpLog | None = None) -> list[HostRun]:
    """Plan or apply on ``names`` in parallel; one record per host in the operations log (apply)."""
    today = today or date.today()
    _thread_local_pyinfra_context()
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(names)))) as pool:
        runs = list(pool.map(lambda n: run_host(inv, n, mode, known_hosts, today=today,
                                                overrides=overrides), names))
    if oplog is not None and mode == "apply":
        for hr in runs:
            controls = sorted({c for ch in hr.changes for c in ch["controls"]})
            oplog.append(action="harden.apply", target=hr.name, result=str(hr.status),
                         params={"changed_ops": hr.changed_ops, "controls_changed": controls,
                                 "message": hr.message, "seconds": round(hr.seconds, 2)},
                         refs=REFS)
    return runs
