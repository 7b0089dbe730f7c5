"""``simpul run``: ad-hoc commands across servers with fabric, output grouped per host.

Safe by default: without ``--apply`` only read-only commands run. *Read-only* is an allow-list
of command **shapes** (:data:`READ_ONLY`): the command, given by its name (a path such as
``/tmp/x/cat`` may point at any program), and for each command the options and operands known
not to change anything — ``date`` may print (``date +%F``) but not set (``date -s``), ``sysctl``
may read keys but not write them (``-w``, ``k=v``, ``-p``), ``journalctl`` may read but not
vacuum, ``ip`` may show but not set, ``find`` may search but not ``-delete``/``-exec``. Anything
else needs ``--apply``, and the refusal says which word was not read-only. Shell control
characters (``; | & > < ` $( \n``) are refused, and an allowed command runs exactly as checked:
its words are re-quoted (:func:`shlex.join`), so no glob, brace or variable expansion can turn
into an option the check did not see (use ``--apply`` for shell features). Host keys are pinned (fabric would auto-add unknown keys), and every run
is one record in the operations log.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import paramiko

from simpul.errors import UsageError
from simpul.results import Result, Status
from simpul.runner import Hook, run_each
from simpul.ssh import Target, check_route, pin_host_keys, wrap_ssh_error

log = logging.getLogger(__name__)

ANY = r".+"  # any operand (paths, patterns, user names): for commands that cannot write
PATH = r"[^-].*"  # a path or name, not an option


@dataclass(frozen=True)
class Shape:
    """The arguments with which a command only reads.

    ``flags`` take no value (``-h``, ``--human-readable``; short ones may be combined:
    ``-tlnp``), ``valued`` options take one (``-n 5``, ``-n5``, ``--lines=5``), ``operand`` is
    the regular expression every operand must match (None: no operands). ``subcommands`` maps
    the first operand to the shape of the rest (``ip addr show``); ``bare`` says whether the
    command may run without one. ``free``: the command has no option that writes, so any
    arguments are fine. ``require``: one of these options must be present (``sshd -T``).
    """

    flags: tuple[str, ...] = ()
    valued: tuple[str, ...] = ()
    operand: str | None = None
    subcommands: Mapping[str, Shape] | None = None
    bare: bool = True
    free: bool = False
    require: tuple[str, ...] = ()
    max_operands: int | None = None
    words: bool = False  # options are whole words (find -name, ip -brief): never split -abc


FREE = Shape(free=True)
_SHOW = Shape(flags=(), operand=r"[\w.:/@%+-]+")  # `ip ... show dev eth0 table main`
_IP_VERBS = {v: _SHOW for v in ("show", "sh", "s", "list", "lst", "ls", "l")}
_IP_OBJECTS = ("address", "addr", "a", "route", "ro", "r", "link", "l", "neighbour", "neighbor",
               "neigh", "n", "rule", "ru", "maddress", "maddr", "m", "tunnel", "tun")
_UNIT = r"[\w@.:-]+"

READ_ONLY: dict[str, Shape] = {
    # commands without any option that writes: any arguments
    **{c: FREE for c in ("uptime", "uname", "id", "whoami", "w", "who", "last", "lastlog", "df",
                         "du", "free", "lsblk", "findmnt", "ps", "cat", "head", "tail", "grep",
                         "ls", "stat", "getent", "lscpu", "nproc", "dpkg-query", "sha256sum",
                         "md5sum", "wc", "lsmod", "pgrep", "vmstat")},
    # lastlog -C clears and -S sets records
    "lastlog": Shape(valued=("-b", "--before", "-t", "--time", "-u", "--user")),
    # hostname NAME / -F FILE set the name: only the printing options
    "hostname": Shape(flags=("-f", "--fqdn", "--long", "-s", "--short", "-d", "--domain", "-i",
                             "--ip-address", "-I", "--all-ip-addresses", "-A", "--all-fqdns",
                             "-a", "--alias", "-y", "--yp", "--nis")),
    # date -s / date MMDDhhmm set the clock: print only (+FORMAT)
    "date": Shape(flags=("-u", "--utc", "--universal", "-R", "--rfc-email", "-I", "--debug"),
                  valued=("-d", "--date", "--iso-8601", "--rfc-3339", "-r", "--reference"),
                  operand=r"\+.*", max_operands=1),
    "env": Shape(),  # `env X=1 cmd` runs cmd
    # sysctl -w / k=v / -p / --system write: read keys only
    "sysctl": Shape(flags=("-a", "-A", "-X", "--all", "-n", "--values", "-e", "--ignore", "-N",
                           "--names", "-b", "--binary"),
                    valued=("-r", "--pattern"), operand=r"[A-Za-z0-9_*][A-Za-z0-9_.*/-]*"),
    "dpkg": Shape(subcommands={a: Shape(flags=("--no-pager",), operand=r"[\w.+:*/-]+") for a in
                               ("-l", "--list", "-s", "--status", "-L", "--listfiles", "-S", "--search",
                                "-p", "--print-avail", "--get-selections", "--print-architecture",
                                "--print-foreign-architectures", "--audit", "-C", "--verify", "-V")},
                  bare=False),
    "apt": Shape(subcommands={a: Shape(flags=("--installed", "--upgradable", "--all-versions", "-a",
                                              "--full", "-q"), operand=r"[\w.+:*/~=-]+")
                              for a in ("list", "show", "policy", "search", "depends", "rdepends")},
                 bare=False),
    "apt-cache": Shape(subcommands={a: Shape(flags=("--installed", "--recurse", "-q", "-n",
                                                    "--names-only", "-f", "--full"),
                                             operand=r"[\w.+:*/~=-]+")
                                    for a in ("policy", "show", "search", "depends", "rdepends",
                                              "madison", "showpkg", "showsrc", "stats", "pkgnames")},
                       bare=False),
    # ip OBJECT [show ...]: never set/add/del/flush, never -batch FILE, never netns exec
    "ip": Shape(flags=("-4", "-6", "-0", "-br", "-brief", "-j", "-json", "-s", "-stats",
                       "-statistics", "-d", "-details", "-c", "-color", "-p", "-pretty", "-o",
                       "-oneline", "-h", "-human", "-N", "-numeric"), words=True,
                subcommands={**{o: Shape(subcommands=_IP_VERBS) for o in _IP_OBJECTS},
                             "route": Shape(subcommands={**_IP_VERBS, "get": _SHOW}),
                             "r": Shape(subcommands={**_IP_VERBS, "get": _SHOW}),
                             "ro": Shape(subcommands={**_IP_VERBS, "get": _SHOW}),
                             "netns": Shape(subcommands={"list": Shape(), "ls": Shape(),
                                                         "identify": _SHOW})},
                bare=False),
    # ss -K kills sockets, -D writes a file
    "ss": Shape(flags=(*(f"-{c}" for c in "hnrapltuwxsiem0468HOZzbEMN"),
                       "--numeric", "--resolve", "--all", "--listening", "--options", "--extended",
                   "--memory", "--processes", "--info", "--summary", "--tcp", "--udp", "--unix",
                   "--raw", "--ipv4", "--ipv6", "--no-header", "--oneline", "--tos", "--cgroup"),
                valued=("-f", "--family", "-A", "--query", "--socket", "-N", "--net", "-F",
                        "--filter"),
                operand=r"[\w.:/=()!*\[\]-]+"),
    # nft list ... only (never -f FILE, flush, add, delete, ...)
    "nft": Shape(flags=("-a", "--handle", "-n", "--numeric", "-j", "--json", "-s", "--stateless",
                        "-t", "--terse", "-y", "--numeric-priority", "-N", "-S", "--service",
                        "-T", "--numeric-time", "-u", "--guid", "-p", "--numeric-protocol"),
                 subcommands={"list": Shape(operand=r"[\w.-]+")}, bare=False),
    "chronyc": Shape(flags=("-n", "-c", "-N", "-4", "-6"),
                     subcommands={a: Shape(operand=r"[\w.:-]+") for a in
                                  ("sources", "tracking", "sourcestats", "activity", "ntpdata",
                                   "serverstats", "selectdata", "sourcename", "authdata", "clients",
                                   "waitsync", "rtcdata")}, bare=False),
    "fail2ban-client": Shape(subcommands={"status": Shape(operand=r"[\w.-]+", max_operands=1),
                                          "ping": Shape(), "version": Shape(), "banned": Shape(operand=ANY),
                                          "get": Shape(operand=r"[\w.-]+"), "-V": Shape(),
                                          "--version": Shape(), "-h": Shape(), "--help": Shape()},
                          bare=False),
    # journalctl --vacuum-*, --rotate, --flush, --sync, --setup-keys... change the journal
    "journalctl": Shape(flags=("-b", "--boot", "-k", "--dmesg", "--no-pager", "-r", "--reverse", "-e",
                               "--pager-end", "-x", "--catalog", "-a", "--all", "-q", "--quiet",
                               "--no-hostname", "--utc", "--list-boots", "--disk-usage",
                               "--header", "-l", "--full", "-m", "--merge", "--no-full",
                               "--verify", "-f", "--follow", "-N", "--fields", "--system",
                               "--user", "--show-cursor", "-h", "--help", "--version",
                               "--list-catalog", "--dump-catalog"),
                        valued=("-u", "--unit", "-n", "--lines", "-p", "--output-fields",
                                "--priority", "-t", "--identifier", "-S", "--since", "-U",
                                "--until", "-o", "--output", "-g", "--grep", "-F", "--field",
                                "-D", "--directory", "--file", "-M", "--machine", "--facility",
                                "--user-unit", "-c", "--cursor", "--after-cursor"),
                        # FIELD=VALUE matches, a binary's path, "+", a boot (-b -1, -b ID)
                        operand=r"([A-Z0-9_]+=.*|/[^ ]+|\+|-?\d+|[0-9a-f]{32})"),
    "sshd": Shape(flags=("-T", "-t"), valued=("-C", "-f"), require=("-T", "-t")),
    "lynis": Shape(subcommands={"show": Shape(operand=r"[\w.-]+")}, bare=False),
    "systemctl": Shape(flags=("--no-pager", "-l", "--full", "-a", "--all", "-q", "--quiet",
                              "--failed", "--no-legend", "-r", "--recursive", "--plain",
                              "--value", "--user", "--system"),
                       valued=("-t", "--type", "--state", "-n", "--lines", "-p", "--property",
                               "-o", "--output"),
                       subcommands={a: Shape(operand=_UNIT) for a in
                                    ("status", "is-active", "is-enabled", "is-failed",
                                     "list-units", "list-timers", "list-unit-files",
                                     "list-dependencies", "list-sockets", "show", "cat",
                                     "is-system-running", "get-default")}, bare=False),
    "service": Shape(subcommands={"--status-all": Shape()}, bare=False),  # plus NAME status: below
    "timedatectl": Shape(subcommands={a: Shape() for a in ("status", "show", "list-timezones",
                                                           "timesync-status", "show-timesync")}),
    "hostnamectl": Shape(subcommands={a: Shape() for a in ("status", "show")}),
    "mount": Shape(flags=("-l", "--show-labels"), valued=("-t", "--types")),
    # find -delete/-exec/-fprint/... change or run things: searching predicates only
    "find": Shape(flags=("-H", "-L", "-P", "-xdev", "-mount", "-depth", "-print", "-print0",
                         "-ls", "-prune", "-quit", "-true", "-false", "-empty", "-executable",
                         "-readable", "-writable", "-nouser", "-nogroup", "-not", "!", "-a",
                         "-and", "-o", "-or", "(", ")", "-daystart", "-follow", "-noleaf",
                         "-ignore_readdir_race"),
                  valued=("-name", "-iname", "-path", "-ipath", "-wholename", "-regex", "-iregex",
                          "-type", "-xtype", "-perm", "-user", "-group", "-uid", "-gid", "-size",
                          "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-newer",
                          "-maxdepth", "-mindepth", "-links", "-inum", "-samefile", "-fstype",
                          "-printf", "-lname", "-ilname", "-used", "-context", "-regextype",
                          "-newermt", "-newerct", "-newerat"),
                  operand=PATH, words=True),
}
FORBIDDEN = (";", "|", "&", ">", "<", "`", "$(", "\n")


def _subs(shape: Shape) -> str:
    return ", ".join(sorted(shape.subcommands or {}))


def _check(cmd: str, shape: Shape, words: Sequence[str]) -> str:
    """The reason ``words`` are not a read-only use of ``cmd`` (``""`` when they are)."""
    if shape.free:
        return ""
    operands: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "--":
            operands += words[i:]
            break
        if shape.subcommands is not None and not operands and (not w.startswith("-") or w in shape.subcommands):
            sub = shape.subcommands.get(w)
            if sub is None:
                return f"'{cmd} {w}' is not read-only (read-only: {cmd} {_subs(shape)})"
            # the command's own options stay valid after the subcommand (systemctl status x -l)
            sub = replace(sub, flags=sub.flags + shape.flags, valued=sub.valued + shape.valued,
                          words=sub.words or shape.words)
            return _check(f"{cmd} {w}", sub, words[i:])
        if w in shape.flags:
            seen.add(w)
            continue
        if w.startswith("--") and "=" in w and w.split("=", 1)[0] in shape.valued:
            seen.add(w.split("=", 1)[0])
            continue
        if w in shape.valued:
            if i >= len(words):
                return f"'{cmd} {w}' needs a value"
            seen.add(w)
            i += 1
            continue
        if w.startswith("-") and len(w) > 1 and not re.fullmatch(r"-\d+", w):  # -1: a number
            if w.startswith("--") or shape.words:
                return f"'{cmd}': option {w.split('=', 1)[0]} is not on the read-only list"
            for j, ch in enumerate(w[1:]):  # combined short options: -tlnp, -n5
                o = f"-{ch}"
                if o in shape.flags:
                    seen.add(o)
                    continue
                if o in shape.valued:
                    seen.add(o)
                    if not w[j + 2:]:
                        if i >= len(words):
                            return f"'{cmd} {o}' needs a value"
                        i += 1
                    break
                return f"'{cmd}': option {o}" + (f" (in {w})" if len(w) > 2 else "") + \
                    " is not on the read-only list"
            continue
        operands.append(w)
    if shape.subcommands is not None and not shape.bare:
        return f"'{cmd}' is read-only only as: {cmd} {_subs(shape)}"
    if shape.require and not seen & set(shape.require):
        return f"'{cmd}' is read-only only with one of {', '.join(shape.require)}"
    if operands and shape.operand is None:
        return f"'{cmd}' takes no operand when read-only ('{operands[0]}' would change something)"
    if shape.max_operands is not None and len(operands) > shape.max_operands:
        return f"'{cmd}' takes at most {shape.max_operands} operand(s) when read-only"
    for op in operands:
        if not re.fullmatch(shape.operand or "(?!)", op):
            return f"'{cmd}': '{op}' is not a read-only operand"
    return ""


def read_only_words(command: str) -> tuple[list[str] | None, str]:
    """``(words, "")`` when ``command`` may run without ``--apply``, ``(None, why)`` otherwise.

    The words are what runs (re-quoted with :func:`shlex.join`)."""
    for ch in FORBIDDEN:
        if ch in command:
            return None, f"contains {ch!r} (shell control characters need --apply)"
    try:
        words = shlex.split(command)
    except ValueError as e:
        return None, f"cannot parse: {e}"
    run = list(words)
    if words and words[0] == "sudo":
        words = words[1:]
        if words and words[0].startswith("-"):
            return None, "sudo options need --apply"
    if not words:
        return None, "empty command"
    cmd = words[0]
    if "/" in cmd:
        return None, (f"'{cmd}' is given by its path: read-only commands are run by name (a path "
                      "may point at any program)")
    if cmd == "service" and len(words) == 3 and words[2] == "status" and re.fullmatch(_UNIT, words[1]):
        return run, ""
    shape = READ_ONLY.get(cmd)
    if shape is None:
        return None, f"'{cmd}' is not on the read-only list"
    why = _check(cmd, shape, words[1:])
    return (None, why) if why else (run, "")


def is_read_only(command: str) -> tuple[bool, str]:
    """Whether ``command`` may run without ``--apply``, and why not."""
    words, why = read_only_words(command)
    return words is not None, why


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
    pin_host_keys(c.client, t.known_hosts, t.host, t.port)
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
        words, why = read_only_words(command)
        if words is None:
            raise UsageError(f"refusing to run without --apply: {why}",
                             hint="add --apply if the command is meant to change the servers")
        command = shlex.join(words)  # runs exactly what was checked: no glob, no expansion
    return run_each(targets, lambda t: run_one(t, command, sudo, timeout),
                    name=lambda t: t.name, parallel=parallel, hooks=hooks)
