"""Intended vs running config, as the exact commands a push would send (pure, no device).

One differ per config style, each an existing engine where one exists:

- **FRR**: FRR's own ``frr-reload.py`` (``/usr/lib/frr``, shipped with the ``frr`` package) —
  the same code FRR uses for ``service frr reload``: it knows FRR's contexts, which lines FRR
  cannot ``no`` and how FRR prints what it was given. Both configs are first "marked" by the
  local ``vtysh -m`` (a parse, no daemons needed).
- **Cisco IOS / IOS-XE, Huawei VRP**: hier_config (``WorkflowRemediation``): hierarchy-aware
  remediation, ``no``/``undo`` lines included, an interface block is one unit.
- **MikroTik RouterOS**: a small differ of our own over ``/export terse`` lines (section path +
  command): neither hier_config nor ntc-templates understands RouterOS exports.

Lines a device adds by itself (``frr version``, ``Building configuration...``, timestamps) and
host-local lines (FRR ``log file <path>``) are ignored (:data:`FRR_IGNORE`). Secret-bearing
lines are compared with secrets masked (a hashed secret on the device never equals the
placeholder), so a password change does not show as a diff — see docs/network.md.

Example::

    d = diff_config("frr", rendered.files["frr.conf"], running_text)
    print(d.text())          # the commands, "no ..." lines included
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from simpul.errors import ConfigError

FRR_RELOAD = Path(os.environ.get("SIMPUL_FRR_RELOAD") or "/usr/lib/frr/frr-reload.py")

FRR_IGNORE = [
    re.compile(r"^log file "),  # host-local log path: differs per machine, not intent
    re.compile(r"^frr version "),
    re.compile(r"^no ipv6 forwarding$"),  # FRR prints the kernel default it found
    re.compile(r"^ipv6 forwarding$"),
    re.compile(r"^ip forwarding$"),
    re.compile(r"^no ip forwarding$"),
    re.compile(r"^line vty$"),
]
"""FRR top-level lines that are the host's business, not the intended config's."""


@dataclass
class ConfigDiff:
    """The commands that turn the running config into the intended one."""

    platform: str
    commands: list[str] = field(default_factory=list)
    """Exactly what a push sends, in order (context lines included)."""
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    """Human view: the lines removed (``- ...``) and added (``+ ...``), context-qualified."""

    @property
    def empty(self) -> bool:
        return not self.commands

    def text(self) -> str:
        return "\n".join(self.commands) + ("\n" if self.commands else "")

    def summary(self) -> str:
        return f"{len(self.added)} line(s) to add, {len(self.removed)} to remove"


# --- FRR (frr-reload.py) ------------------------------------------------------------------------


@cache
def _frr_reload() -> ModuleType:
    if not FRR_RELOAD.exists():
        raise ConfigError(f"{FRR_RELOAD} not found: the FRR differ uses FRR's own frr-reload.py",
                          hint="install the 'frr' package (scripts/setup does)")
    spec = importlib.util.spec_from_file_location("simpul_frr_reload", FRR_RELOAD)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ConfigError(f"{FRR_RELOAD}: cannot be loaded")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_MARKED: dict[str, str] = {}
_MARKED_MAX = 512


def clear_parse_cache() -> None:
    """Forget the cached ``vtysh -m`` parses (benchmarks: start like a fresh CLI run)."""
    _MARKED.clear()


class _LocalVtysh:
    """What frr-reload's ``Config`` needs from vtysh: ``mark_file`` (``vtysh -m``, no daemons).

    Marked texts are cached by content (a ``vtysh`` process costs ~25 ms of CPU; a push of 50
    routers marks the same intended and running texts more than once)."""

    def mark_file(self, filename: str, stdin: Any = None) -> str:
        text = Path(filename).read_text()
        hit = _MARKED.get(text)
        if hit is not None:
            return hit
        cp = subprocess.run(["vtysh", "-m", "-f", filename], capture_output=True, text=True,
                            timeout=30, check=False)
        if cp.returncode != 0:
            raise ConfigError(f"vtysh could not parse the config: {(cp.stderr or cp.stdout).strip()[:300]}")
        _remember(text, cp.stdout)
        return cp.stdout


def _strip_header(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line.strip() in ("Building configuration...", "Current configuration:"):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def mark_together(texts: list[str]) -> None:
    """Mark several configs with ONE ``vtysh -m`` (a vtysh start is most of its cost) and cache
    each one's marking. The texts are joined by a comment line that vtysh passes through; each
    part is cut back to exactly what marking it alone gives (a unit test compares them)."""
    todo = [t for t in dict.fromkeys(texts) if _strip_header(t) not in _MARKED]
    if len(todo) < 2:
        return
    sep = f"! simpul-split {uuid.uuid4().hex}"
    with tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="simpul-frr-") as f:
        f.write(f"\n{sep}\n".join(_strip_header(t).rstrip("\n") for t in todo) + "\n")
        f.flush()
        cp = subprocess.run(["vtysh", "-m", "-f", f.name], capture_output=True, text=True, timeout=30,
                            check=False)
    parts = cp.stdout.replace("\r\n", "\n").split(f"{sep}\n")
    if cp.returncode != 0 or len(parts) != len(todo):
        return  # each text is marked on its own later, with its own error message
    for text, part in zip(todo, parts, strict=True):
        if not part.rstrip().endswith("\nend"):
            part = part.rstrip("\n") + "\n\nend\n"
        _remember(_strip_header(text), part)


@dataclass(eq=False)
class _Request:
    texts: list[str]
    done: bool = False


_batch = threading.Condition()
_queue: list[_Request] = []
_marking = False


def mark_batched(texts: list[str]) -> None:
    """Have ``texts`` marked, sharing one ``vtysh -m`` with the other routers' threads that ask
    at the same time (group commit): the first caller marks what is queued at once; callers that
    arrive while a vtysh runs queue up and the next caller marks all of them in one vtysh.
    Nothing waits for company — a lone push pays no delay —, and under load (a push of 50
    routers) one vtysh start (~20 ms of CPU) serves many routers. If a batch cannot be marked,
    each text is marked alone later, with its own error."""
    global _marking
    req = _Request([t for t in dict.fromkeys(texts) if _strip_header(t) not in _MARKED])
    if not req.texts:
        return
    with _batch:
        _queue.append(req)
        while not req.done and _marking:
            _batch.wait()
        if req.done:
            return
        _marking = True
        batch, _queue[:] = list(_queue), []
    try:
        mark_together([t for r in batch for t in r.texts])
    finally:
        with _batch:
            for r in batch:
                r.done = True
            _marking = False
            _batch.notify_all()


def _remember(text: str, marked: str) -> None:
    if len(_MARKED) >= _MARKED_MAX:
        _MARKED.pop(next(iter(_MARKED)))
    _MARKED[text] = marked


def _frr_config(text: str) -> Any:
    mod = _frr_reload()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="simpul-frr-") as f:
        f.write(_strip_header(text))
        f.flush()
        cfg = mod.Config(_LocalVtysh())
        cfg.load_from_file(f.name)
    return cfg


def _frr_ignored(ctx_keys: tuple[str, ...]) -> bool:
    return len(ctx_keys) == 1 and any(p.match(ctx_keys[0]) for p in FRR_IGNORE)


def frr_diff(intended: str, running: str) -> ConfigDiff:
    """FRR: the commands (via frr-reload's comparison) that make ``running`` equal ``intended``."""
    mod = _frr_reload()
    mark_batched([intended, running])
    new, run = _frr_config(intended), _frr_config(running)
    to_add, to_del = mod.compare_context_objects(new, run)
    d = ConfigDiff("frr")
    for ctx_keys, line in to_del:
        if line == "!" or _frr_ignored(tuple(ctx_keys)):
            continue
        cmd = mod.lines_to_config(ctx_keys, line, True)
        d.commands += _with_exits(cmd)
        d.removed.append(" / ".join(c.strip() for c in cmd[:-1]) + (" / " if len(cmd) > 1 else "")
                         + _undo(cmd[-1].strip()))
    for ctx_keys, line in to_add:
        if line == "!" or _frr_ignored(tuple(ctx_keys)):
            continue
        cmd = mod.lines_to_config(ctx_keys, line, False)
        d.commands += _with_exits(cmd)
        text = " / ".join(c.strip() for c in cmd)
        if cmd[-1].strip().startswith("no "):
            d.removed.append(text[:-len(cmd[-1].strip())] + cmd[-1].strip()[3:])
        else:
            d.added.append(text)
    d.commands = _merge_contexts(d.commands)
    return d


def _undo(cmd: str) -> str:
    return cmd[3:] if cmd.startswith("no ") else cmd


def _with_exits(cmd: list[str]) -> list[str]:
    """frr-reload's lines are context lines + one command; leave each context again."""
    depth = len(cmd) - 1
    return [c.strip() for c in cmd] + ["exit"] * depth


def _merge_contexts(cmds: list[str]) -> list[str]:
    """``interface eth0 / a / exit / interface eth0 / b / exit`` → one ``interface eth0`` block."""
    out: list[str] = []
    for c in cmds:
        if (len(out) >= 2 and out[-1] == "exit" and not c.startswith("no ")
                and c == _last_context(out)):
            out.pop()  # re-enter the same context: drop the exit instead
            continue
        out.append(c)
    return out


def _last_context(out: list[str]) -> str | None:
    depth = 0
    for c in reversed(out):
        if c == "exit":
            depth += 1
        elif depth == 1 and _opens_context(c):
            return c
        elif depth == 0:
            return None
    return None


def _opens_context(c: str) -> bool:
    return c.startswith(("interface ", "router ", "vrf ", "route-map ", "line ", "key chain "))


# --- IOS and VRP (hier_config) ------------------------------------------------------------------

_HIER_PLATFORM = {"cisco_ios": "CISCO_IOS", "cisco_xe": "CISCO_IOS", "huawei": "HUAWEI_VRP"}

_IOS_VOLATILE = re.compile(
    r"^(Building configuration|Current configuration|! Last configuration change|! NVRAM config last"
    r"|! No configuration change since|ntp clock-period|end$|version \d|!Time:)")
_VRP_VOLATILE = re.compile(r"^(!Software Version|!Last configuration was|#$|return$)")
_IOS_SECRET = re.compile(r"^(\s*username \S+ .*?(?:secret|password) )(?:\d+ )?\S+(.*)$|"
                         r"^(\s*snmp-server user .*)$")
_VRP_SECRET = re.compile(r"^(\s*local-user \S+ password (?:irreversible-cipher|cipher) )\S+(.*)$|"
                         r"^(\s*snmp-agent usm-user v3 \S+ (?:authentication|privacy)-mode \S+ cipher )\S+(.*)$")


def _clean_ios_like(platform: str, text: str) -> str:
    vol = _VRP_VOLATILE if platform == "huawei" else _IOS_VOLATILE
    lines = []
    for line in text.splitlines():
        if not line.strip() or vol.match(line.strip()) or (platform != "huawei" and line.strip() == "!"):
            continue
        line = mask_secret_line(platform, line.rstrip())
        if platform != "huawei" and line.lstrip().startswith("username "):
            line = re.sub(r" algorithm-type \S+", "", line)  # IOS shows 'secret 9 <hash>' instead
        lines.append(line)
    return "\n".join(lines) + "\n"


def mask_secret_line(platform: str, line: str) -> str:
    """Replace the secret of a secret-bearing line with ``<secret>`` (for diffs and backups)."""
    if platform in ("cisco_ios", "cisco_xe"):
        m = _IOS_SECRET.match(line)
        if m and m.group(1) is not None:
            return f"{m.group(1)}<secret>{m.group(2)}"
        if m and m.group(3) is not None:
            return re.sub(r"(\b(?:auth \S+|priv \S+(?: \d+)?) )\S+", r"\1<secret>", line)
    if platform == "huawei":
        m = _VRP_SECRET.match(line)
        if m and m.group(1) is not None:
            return f"{m.group(1)}<secret>{m.group(2)}"
        if m and m.group(3) is not None:
            return f"{m.group(3)}<secret>{m.group(4)}"
    if platform == "mikrotik_routeros":
        return re.sub(r"\b((?:authentication-|encryption-)?password)=(\"[^\"]*\"|\S+)", r"\1=<secret>", line)
    return line


def hier_diff(platform: str, intended: str, running: str) -> ConfigDiff:
    """IOS/VRP remediation with hier_config (``no``/``undo`` lines, hierarchy-aware)."""
    from hier_config import Platform, WorkflowRemediation, get_hconfig

    hp = Platform[_HIER_PLATFORM[platform]]
    run = get_hconfig(hp, _clean_ios_like(platform, running))
    want = get_hconfig(hp, _clean_ios_like(platform, re.sub(r"<secret:[^>]+>", "<secret>", intended)))
    rem = WorkflowRemediation(run, want).remediation_config
    running_lines = {ln.strip() for ln in _clean_ios_like(platform, running).splitlines()}
    d = ConfigDiff(platform)
    for child in rem.all_children_sorted():
        depth = child.depth() - 1
        d.commands.append(" " * depth + child.text)
        if not child.children:
            path = " / ".join(str(getattr(c, "text", c)) for c in child.path())
            neg = child.text.split(" ", 1)[1] if child.text.startswith(("no ", "undo ")) else None
            if neg is not None and any(r == neg or r.startswith(neg + " ") for r in running_lines):
                d.removed.append(path)
            else:
                d.added.append(path)
    return d


# --- RouterOS (own) -----------------------------------------------------------------------------

_ROS_VOLATILE = re.compile(r"^# (\w{3}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2}) .*by RouterOS|^# software id|^# model|"
                           r"^# serial number")


def routeros_lines(text: str) -> list[tuple[str, str]]:
    """``/export terse`` (or a plain export) → ``[(section, command)]``; continuation lines
    joined, comments and volatile header lines dropped."""
    out: list[tuple[str, str]] = []
    section = ""
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if buf:
            line = buf + line.lstrip()
            buf = ""
        if line.endswith("\\"):
            buf = line[:-1]
            continue
        s = line.strip()
        if not s or s.startswith("#") or _ROS_VOLATILE.match(s):
            continue
        if s.startswith("/"):
            head, _, rest = s.partition(" ")
            words = rest.split(" ", 1)
            if (rest and words[0] in ("add", "set", "remove")) or not rest:
                if not rest:
                    section = head
                    continue
                out.append((head, rest))
                continue
            # '/ip service set ...' where the section has several words
            parts = s.split(" ")
            for i in range(1, len(parts)):
                if parts[i] in ("add", "set", "remove"):
                    out.append((" ".join(parts[:i]), " ".join(parts[i:])))
                    break
            else:
                section = s
            continue
        out.append((section, s))
    return [(sec, _norm_ros(cmd)) for sec, cmd in out]


def _norm_ros(cmd: str) -> str:
    verb, _, args = cmd.partition(" ")
    words = _ros_args(args)
    positional = [w for w in words if "=" not in w]  # e.g. the item of 'set ssh address=...'
    return " ".join([verb, *positional, *sorted(w for w in words if "=" in w)]).strip()


def _ros_args(args: str) -> list[str]:
    return re.findall(r'\S+="[^"]*"|\S+', args)


def routeros_diff(intended: str, running: str) -> ConfigDiff:
    """RouterOS: commands to add what is missing and remove what is not intended (``add``
    lines are matched whole; ``set`` lines by their target)."""
    want = routeros_lines(re.sub(r"<secret:[^>]+>", "<secret>", intended))
    have = [(s, mask_secret_line("mikrotik_routeros", c)) for s, c in routeros_lines(running)]
    d = ConfigDiff("mikrotik_routeros")
    have_set = set(have)
    want_set = set(want)
    for sec, cmd in have:
        if (sec, cmd) in want_set or not cmd.startswith("add "):
            continue
        args = dict(a.split("=", 1) for a in _ros_args(cmd[4:]) if "=" in a)
        keys = [k for k in ("name", "address", "list", "interfaces", "dst-address", "comment") if k in args]
        find = " ".join(f"{k}={args[k]}" for k in keys[:2]) if keys else ""
        d.commands.append(f"{sec} remove [find {find}]".replace("[find ]", "[find]"))
        d.removed.append(f"{sec} {cmd}")
    for sec, cmd in want:
        if (sec, cmd) in have_set:
            continue
        d.commands.append(f"{sec} {cmd}")
        d.added.append(f"{sec} {cmd}")
    return d


# --- dispatch -----------------------------------------------------------------------------------


def diff_config(platform: str, intended: str, running: str) -> ConfigDiff:
    """The commands that turn ``running`` into ``intended`` on ``platform``."""
    if platform == "frr":
        return frr_diff(intended, running)
    if platform in _HIER_PLATFORM:
        return hier_diff(platform, intended, running)
    if platform == "mikrotik_routeros":
        return routeros_diff(intended, running)
    raise ConfigError(f"no differ for platform {platform}")
