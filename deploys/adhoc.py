"""``simpul run``: ad-hoc commands across servers with fabric, output grouped per host.

Safe by default: without ``--apply`` only read-only commands run — the first word must be on
:data:`READ_ONLY` (with per-command limits, e.g. ``ip`` only with ``show``/``addr``/``route``)
and shell control characters (``; | & > < ` $( \\n``) are refused, so nothing can be chained
onto a harmless command. Anything else needs ``--apply``. Host keys are pinned (fabric would
auto-add unknown keys), and every run is one record in the operations log.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence

import paramiko

from simpul.errors import UsageError
from simpul.results import Result, Status
from simpul.runner import Hook, run_each
from simpul.ssh import Target, check_route, wrap_ssh_error

log = logging.getLogger(__name__)

READ_ONLY: dict[str, tuple[str, ...] | None] = {
    # command → allowed first arguments (None: any arguments)
    "uptime": None, "uname": None, "hostname": None, "date": None, "id": None, "whoami": None,
    "w": None, "who": None, "last": None, "df": None, "du": None, "free": None, "lsblk": None,
    "findmnt": None, "ps": None, "ss": None, "cat": None, "head": None, "tail": None,
    "grep": None, "ls": None, "stat": None, "getent": None, "lscpu": None, "nproc": None,
    "env": (), "sysctl": ("-a", "-n"), "dpkg": ("-l", "-s", "-L", "--list", "--status"),
    "dpkg-query": None, "apt": ("list", "show", "policy"), "apt-cache": ("policy", "show", "search"),
    "ip": ("a", "addr", "address", "r", "route", "link", "neigh", "-br", "-j", "-s"),
    "nft": ("list",), "chronyc": ("sources", "tracking", "sourcestats", "-n"),
    "fail2ban-client": ("status",), "journalctl": None, "sshd": ("-T",), "lynis": ("show",),
    "systemctl": ("status", "is-active", "is-enabled", "list-units", "list-timers"),
    "service": ("--status-all",), "timedatectl": ("status",), "mount": (), "sha256sum": None,
}
WRITE_WORDS = frozenset({"set", "add", "del", "delete", "change", "replace", "flush", "append",
                         "prepend", "up", "down", "save", "restore"})
FORBIDDEN = (";", "|", "&", ">", "<", "`", "$(", "\n")


def is_read_only(command: str) -> tuple[bool, str]:
    """Whether ``command`` may run without ``--apply``, and why not."""
    for ch in FORBIDDEN:
        if ch in command:
            return False, f"contains {ch!r} (shell control characters need --apply)"
    try:
        words = shlex.split(command)
    except ValueError as e:
        return False, f"cannot parse: {e}"
    if not words:
        return False, "empty command"
    if words[0] == "sudo":
        words = words[1:]
        if words and words[0].startswith("-"):
            return False, "sudo options need --apply"
    if not words:
        return False, "empty command"
    cmd = words[0].rsplit("/", 1)[-1]
    if cmd not in READ_ONLY:
        return False, f"'{cmd}' is not on the read-only list"
    if cmd == "ip" and WRITE_WORDS & set(words[1:]):
        return False, "'ip' only for show/list"
    allowed = READ_ONLY[cmd]
    if allowed is not None:
        if allowed == () and len(words) > 1:
            return False, f"'{cmd}' only without arguments"
        if allowed and (len(words) < 2 or words[1] not in allowed):
            return False, f"'{cmd}' only as: {', '.join(f'{cmd} {a}' for a in allowed)}"
    return True, ""


def run_one(t: Target, command: str, sudo: bool, timeout: float) -> Result:
    """Run ``command`` on one server with fabric; ``data``: exit_code, stdout, stderr.

    OK when the command exits 0, FAILED otherwise; connection problems raise
    :class:`UnreachableError`/:class:`AuthError` naming the host (the runner records them).
    """
    from fabric import Connection

    check_route(t)
    c = Connection(t.host, user=t.user, port=t.port, connect_timeout=int(t.timeout),
                   connect_kwargs={"key_filename": str(t.key_file), "allow_agent": False,
                                   "look_for_keys": False})
    # fabric auto-adds unknown host keys: pin them (RejectPolicy + our known_hosts only)
    c.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.client.get_host_keys().clear()
    c.client.load_host_keys(str(t.known_hosts))
    try:
        full = f"sudo -n -- sh -c {shlex.quote(command)}" if sudo else command
        try:
            res = c.run(full, hide=True, warn=True, timeout=timeout, in_stream=False)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise wrap_ssh_error(t.name, t.user, t.host, t.port, e, t.known_hosts) from e
        data = {"exit_code": res.exited, "stdout": res.stdout, "stderr": res.stderr}
        if res.exited == 0:
            return Result(t.name, Status.OK, "exit 0", data=data)
        return Result(t.name, Status.FAILED, f"exit {res.exited}", data=data)
    finally:
        c.close()


def run_command(targets: Sequence[Target], command: str, *, apply: bool, sudo: bool = False,
                timeout: float = 120, parallel: int = 20, hooks: Sequence[Hook] = ()) -> list[Result]:
    """Run ``command`` on every target through the core runner. Raises UsageError if it needs
    ``--apply``."""
    if not apply:
        ok, why = is_read_only(command)
        if not ok:
            raise UsageError(f"refusing to run without --apply: {why}",
                             hint="add --apply if the command is meant to change the servers")
    return run_each(targets, lambda t: run_one(t, command, sudo, timeout),
                    name=lambda t: t.name, parallel=parallel, hooks=hooks)
