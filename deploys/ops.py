"""Simpul's own pyinfra facts and operations: convergent, diff-recording, lock-out-guarded.

Every operation compares *live* state (file checksums, modes, running sysctls, process start
times) with the desired state, so a run that failed half-way converges on the next run — a
trigger based only on "this file changed in this run" would not (LAB-FACTS "Servers").

While a plan is prepared (``state.is_executing`` is false), each operation records what it would
change (a unified diff for files, the command otherwise) in the :class:`Recorder` attached to the
pyinfra ``State``; ``simpul harden plan`` shows exactly that.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import shlex
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from pyinfra.api.command import FileUploadCommand, FunctionCommand, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host as ctx_host
from pyinfra.context import state as ctx_state

log = logging.getLogger(__name__)

GUARD = "/usr/local/sbin/simpul-guard"
STAGING = "/var/lib/simpul-guard/staging"


# --- recording what would change --------------------------------------------------------------


@dataclass
class Change:
    """One thing an operation would change (plan) or changed (apply)."""

    op: str
    controls: list[str]
    kind: str  # file | command | sysctl | service | guard
    detail: str  # a unified diff or a command line

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "controls": self.controls, "kind": self.kind, "detail": self.detail}


@dataclass
class Recorder:
    changes: list[Change] = field(default_factory=list)
    guard_failures: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def recorder() -> Recorder:
    rec = getattr(ctx_state, "simpul_recorder", None)
    if not isinstance(rec, Recorder):
        rec = Recorder()
        setattr(ctx_state, "simpul_recorder", rec)  # noqa: B010 - pyinfra's State has no slot for it
    return rec


def _op_name() -> str:
    names = ctx_state.get_op_meta(ctx_host.current_op_hash).names if ctx_host.current_op_hash else set()
    return sorted(names)[0] if names else "?"


_CONTROL_ID = re.compile(r"^[A-Z]{2,5}-\d{2,3}$")


def _controls(name: str) -> list[str]:
    """Control IDs at the end of an operation name ("... | SSH-01, SSH-02"); [] when none."""
    tail = name.rsplit("|", 1)[-1] if "|" in name else ""
    ids = [c.strip() for c in tail.split(",") if c.strip()]
    return ids if ids and all(_CONTROL_ID.match(i) for i in ids) else []


def record(kind: str, detail: str) -> None:
    """Record a would-be change (only while preparing, not again while executing)."""
    if ctx_state.is_executing:
        return
    name = _op_name()
    recorder().changes.append(Change(name, _controls(name), kind, detail))


def unified_diff(path: str, old: str | None, new: str) -> str:
    a = [] if old is None else old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    src = "/dev/null" if old is None else f"a{path}"
    return "".join(difflib.unified_diff(a, b, src, f"b{path}", n=2))


# --- facts --------------------------------------------------------------------------------------


class FileState(FactBase[Any]):
    """``{"sha256", "mode", "user", "group"}`` of a path, or None when it does not exist."""

    def command(self, path: str) -> str:
        p = shlex.quote(path)
        return (f"if [ -e {p} ]; then stat -c '%a %U %G %F' {p}; "
                f"if [ -f {p} ]; then sha256sum {p} | cut -d' ' -f1; else echo -; fi; "
                "else echo absent; fi")

    def process(self, output: Sequence[str]) -> Any:
        lines = list(output)
        if not lines or lines[0] == "absent":
            return None
        mode, user, group, *kind = lines[0].split(" ")
        return {"mode": mode, "user": user, "group": group, "kind": " ".join(kind),
                "sha256": lines[1] if len(lines) > 1 else "-"}


class FileText(FactBase[Any]):
    """The text of a file, or None when it does not exist."""

    def command(self, path: str) -> str:
        p = shlex.quote(path)
        return f"if [ -f {p} ]; then echo present; cat {p}; else echo absent; fi"

    def process(self, output: Sequence[str]) -> Any:
        lines = list(output)
        if not lines or lines[0] != "present":
            return None
        return "\n".join(lines[1:]) + ("\n" if len(lines) > 1 else "")


class ReadState(FactBase[Any]):
    """Run a read-only shell snippet; returns ``(exit status, output lines)``."""

    def command(self, script: str) -> str:
        return f"( {script} ) 2>&1; echo \"__simpul_rc=$?\""

    def process(self, output: Sequence[str]) -> Any:
        lines = list(output)
        rc = 1
        if lines and lines[-1].startswith("__simpul_rc="):
            rc = int(lines.pop().split("=", 1)[1])
        return rc, lines


def read_state(script: str, **kw: Any) -> tuple[int, list[str]]:
    return ctx_host.get_fact(ReadState, script=script, **kw)  # type: ignore[no-any-return]


# --- operations ---------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _meta_cmds(path: str, cur: dict[str, str] | None, mode: str, user: str, group: str) -> list[str]:
    cmds = []
    q = shlex.quote(path)
    if cur is None or (cur["user"], cur["group"]) != (user, group):
        cmds.append(f"chown {user}:{group} {q}")
    if cur is None or cur["mode"] != mode.lstrip("0").rjust(3, "0"):
        cmds.append(f"chmod {mode} {q}")
    return cmds


@operation()
def managed_file(path: str, content: str, mode: str = "644", user: str = "root",
                 group: str = "root") -> Generator[Any, None, None]:
    """Put ``content`` at ``path`` with ``mode``/owner; diff recorded when it would change."""
    cur = ctx_host.get_fact(FileState, path=path)
    if cur is None or cur["sha256"] != _sha(content):
        old = ctx_host.get_fact(FileText, path=path) if cur is not None else None
        record("file", unified_diff(path, old, content) or f"(create {path})")
        parent = shlex.quote(path.rsplit("/", 1)[0] or "/")
        yield StringCommand(f"mkdir -p {parent}")
        yield FileUploadCommand(StringIO(content), path,
                                remote_temp_filename=ctx_host.get_temp_filename(path))
        for c in _meta_cmds(path, None, mode, user, group):
            yield StringCommand(c)
        return
    cmds = _meta_cmds(path, cur, mode, user, group)
    if cmds:
        record("file", f"{path}: {cur['mode']} {cur['user']}:{cur['group']} → {mode} {user}:{group}")
        for c in cmds:
            yield StringCommand(c)


@operation()
def file_mode(path: str, mode: str, user: str = "root", group: str = "root") -> Generator[Any, None, None]:
    """Set mode/owner of an existing path (missing paths are left alone)."""
    cur = ctx_host.get_fact(FileState, path=path)
    if cur is None:
        return
    cmds = _meta_cmds(path, cur, mode, user, group)
    if cmds:
        record("file", f"{path}: {cur['mode']} {cur['user']}:{cur['group']} → {mode} {user}:{group}")
        for c in cmds:
            yield StringCommand(c)


@operation()
def ensure(check: str, fix: str, describe: str = "") -> Generator[Any, None, None]:
    """Run ``fix`` when the read-only ``check`` exits non-zero (its output says what is wrong)."""
    rc, out = read_state(check)
    if rc != 0:
        what = "; ".join(out[:20]) if out else ""
        record("command", f"{describe or fix}" + (f"  [found: {what}]" if what else ""))
        yield StringCommand(fix)


@operation()
def run_fix(fix: str, describe: str) -> Generator[Any, None, None]:
    """Run ``fix``: the caller compared a fact with the wanted state and found ``describe``."""
    record("command", describe)
    yield StringCommand(fix)


@operation()
def sysctl_live(key: str, value: str) -> Generator[Any, None, None]:
    """Set a running sysctl and read it back (``sysctl -w`` can exit 0 on EINVAL)."""
    path = "/proc/sys/" + key.replace(".", "/")
    rc, out = read_state(f"cat {shlex.quote(path)}")
    cur = " ".join(out).split() if rc == 0 else None
    if cur != value.split():
        record("sysctl", f"{key}: {' '.join(cur) if cur else '(unreadable)'} → {value}")
        yield StringCommand(f"sysctl -q -w {key}={shlex.quote(value)} && "
                            f"test \"$(sysctl -n {key})\" = {shlex.quote(value)}")


def service_state_script(pidfile: str, configs: Sequence[str]) -> str:
    """Prints ``stopped``, ``stale`` (a config is newer than the running process) or ``fresh``."""
    files = " ".join(shlex.quote(c) for c in configs)
    # start time of the process in ms since the epoch (now - (uptime - starttime ticks), all
    # with 10 ms precision), compared with the configs' mtimes in ms: second granularity (or
    # /proc/stat btime, truncated to seconds) would misjudge a restart within the same second.
    return (f"pid=$(cat {shlex.quote(pidfile)} 2>/dev/null); "
            "if [ -z \"$pid\" ] || ! kill -0 \"$pid\" 2>/dev/null; then echo stopped; exit 0; fi; "
            "hz=$(getconf CLK_TCK); now=$(date +%s%3N); up=$(awk '{printf \"%d\", $1*1000}' /proc/uptime); "
            "st=$(awk '{print $22}' /proc/$pid/stat); started=$((now - up + st*1000/hz)); newest=0; "
            f"for f in {files}; do "
            "[ -e \"$f\" ] || continue; m=$(stat -c %.3Y \"$f\" | tr -d .); "
            "[ \"$m\" -gt \"$newest\" ] && newest=$m; done; "
            "if [ \"$newest\" -gt \"$started\" ]; then echo stale; else echo fresh; fi")


class ServiceState(FactBase[str]):
    """``stopped`` | ``stale`` (a configuration file is newer than the running process) |
    ``fresh`` for the daemon whose pid is in ``pidfile``."""

    def command(self, pidfile: str, configs: Sequence[str]) -> str:
        return service_state_script(pidfile, configs)

    def process(self, output: Sequence[str]) -> str:
        lines = [ln for ln in output if ln.strip()]
        return lines[-1].strip() if lines and lines[-1].strip() in ("stopped", "stale", "fresh") \
            else "unknown"


def boot_start_script(service: str, systemd_unit: str | None = None) -> str:
    """Exit 0 (and say how) when ``service`` starts at boot, 1 (and say why not) otherwise.

    systemd: ``systemctl is-enabled`` (enabled, static, ...). Without systemd: an executable
    start link in ``/etc/rcS.d`` or ``/etc/rc2.d`` — what sysvinit's ``rc`` (and the lab's
    init) runs at boot, whatever ``update-rc.d`` ordered.
    """
    unit = shlex.quote(systemd_unit or service)
    svc = shlex.quote(service)
    return ("if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then "
            f"systemctl is-enabled {unit} 2>&1; else "
            f"for l in /etc/rcS.d/S[0-9][0-9]{svc} /etc/rc2.d/S[0-9][0-9]{svc}; do "
            "if [ -x \"$l\" ]; then echo \"$l\"; exit 0; fi; done; "
            f"echo 'no start link for {service} in /etc/rcS.d or /etc/rc2.d'; exit 1; fi")


class BootStart(FactBase[Any]):
    """``{"enabled": bool, "how": str}``: whether ``service`` starts at boot, and the evidence."""

    def command(self, service: str, systemd_unit: str | None = None) -> str:
        return f"( {boot_start_script(service, systemd_unit)} ); echo \"__simpul_rc=$?\""

    def process(self, output: Sequence[str]) -> Any:
        lines = [ln for ln in output if ln.strip()]
        rc = 1
        if lines and lines[-1].startswith("__simpul_rc="):
            rc = int(lines.pop().split("=", 1)[1])
        return {"enabled": rc == 0, "how": "; ".join(lines).strip()}


@operation()
def service_fresh(service: str, pidfile: str, configs: Sequence[str]) -> Generator[Any, None, None]:
    """Keep ``service`` running on its current configuration.

    Starts it when it is not running; restarts it when any of ``configs`` is newer than the
    running process (a live comparison, convergent after a failed run).
    """
    status = ctx_host.get_fact(ServiceState, pidfile=pidfile, configs=list(configs))
    if status == "stopped":
        record("service", f"start {service}")
        yield StringCommand(f"{GUARD} svc {service} start")
    elif status == "stale":
        record("service", f"restart {service} (configuration newer than the running process)")
        yield StringCommand(f"{GUARD} svc {service} restart")


@operation()
def start_at_boot(service: str, systemd_unit: str | None = None) -> Generator[Any, None, None]:
    """Make ``service`` start at every boot (a running daemon that a reboot does not bring back
    is a control that holds only until the next power cut)."""
    fact = ctx_host.get_fact(BootStart, service=service, systemd_unit=systemd_unit)
    if not fact["enabled"]:
        record("service", f"start {service} at boot ({fact['how'] or 'not enabled'})")
        yield StringCommand(f"{GUARD} svc {systemd_unit or service} enable")


@dataclass(frozen=True)
class GuardedFile:
    path: str
    content: str
    mode: str = "644"
    user: str = "root"
    group: str = "root"


ConfirmFn = Callable[[str], None]


def will_change(files: Sequence[GuardedFile]) -> bool:
    """Whether installing ``files`` would change anything (content, mode or owner)."""
    for f in files:
        cur = ctx_host.get_fact(FileState, path=f.path)
        if cur is None or cur["sha256"] != _sha(f.content) or _meta_cmds(f.path, cur, f.mode, f.user, f.group):
            return True
    return False


@operation()
def guarded_files(unit: str, files: Sequence[GuardedFile], validate: str, activate: str,
                  confirm: ConfirmFn | None, timeout: int = 90,
                  live_check: str | None = None) -> Generator[Any, None, None]:
    """Install ``files`` as one guarded change (see ``simpul-guard``).

    Candidates are uploaded to a staging directory and validated on the host (``validate``,
    ``{}`` = candidate path); only then are they installed and ``activate`` run, with a timed
    auto-revert armed. ``confirm`` (run on the controller) must open a *fresh* SSH login and run
    ``simpul-guard confirm UNIT``; if it raises, the change is rolled back at once over the
    existing session and the operation fails with the reason.

    ``live_check`` (exit 0 = the running state matches the files) re-activates an unchanged
    configuration whose live state drifted, e.g. a firewall table altered by hand.
    """
    pairs: list[tuple[str, str]] = []
    setup: list[str] = []
    for i, f in enumerate(files):
        cur = ctx_host.get_fact(FileState, path=f.path)
        same = cur is not None and cur["sha256"] == _sha(f.content) and not _meta_cmds(
            f.path, cur, f.mode, f.user, f.group)
        if same:
            continue
        old = ctx_host.get_fact(FileText, path=f.path) if cur is not None else None
        diff = unified_diff(f.path, old, f.content) if (cur is None or cur["sha256"] != _sha(f.content)) \
            else f"{f.path}: mode/owner → {f.mode} {f.user}:{f.group}"
        record("file", diff)
        cand = f"{STAGING}/{unit}.{i}"
        pairs.append((f.path, cand))
        setup.append(cand)
    if not pairs and live_check:
        rc, out = read_state(live_check)
        if rc != 0:
            record("guard", f"{unit}: running state differs from the configuration; re-activate"
                            + (f" [{'; '.join(out[:5])}]" if out else ""))
            pairs = []  # re-activation only
        else:
            return
    elif not pairs:
        return
    yield StringCommand(f"mkdir -p {STAGING} && chmod 700 {STAGING}")
    idx = 0
    for f_ in files:
        cand = f"{STAGING}/{unit}.{files.index(f_)}"
        if cand not in setup:
            continue
        idx += 1
        yield FileUploadCommand(StringIO(f_.content), cand,
                                remote_temp_filename=ctx_host.get_temp_filename(cand))
        yield StringCommand(f"chown {f_.user}:{f_.group} {cand} && chmod {f_.mode} {cand}")
    args = " ".join(f"{shlex.quote(d)} {shlex.quote(c)}" for d, c in pairs)
    yield StringCommand(f"{GUARD} apply {unit} {timeout} {shlex.quote(validate)} "
                        f"{shlex.quote(activate)} {args}")
    if confirm is not None:
        yield FunctionCommand(_confirm_or_rollback, (unit, confirm), {})


def _confirm_or_rollback(state: Any, host: Any, unit: str, confirm: ConfirmFn) -> bool:
    """Controller side of the guard: fresh login + confirm, or immediate rollback."""
    try:
        confirm(unit)
    except Exception as e:
        reason = f"{unit}: fresh SSH login after the change failed ({e}); previous state restored"
        log.error("%s: %s", host.name, reason)
        host.run_shell_command(StringCommand(f"{GUARD} rollback {unit} fresh-login-failed"),
                               _sudo=True)
        rec = getattr(state, "simpul_recorder", None)
        if rec is not None:
            rec.guard_failures.append(reason)
        return False
    return True
