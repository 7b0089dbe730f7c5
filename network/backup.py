"""Config backups into git, drift (running vs intended, running vs startup), change notices.

Oxidized/RANCID style: ``backup`` fetches every router's running config in parallel, drops
volatile lines (timestamps, ``Building configuration...``), replaces secrets by a stable hash of
what the device stores (so a password change still shows as a change, but no secret is in git),
writes one file per device into a git repository and makes **one commit per run** naming the
changed devices. A notice of the change goes to an mbox file, a maildir or a webhook (nothing
leaves the machine unless the NOC configures a webhook URL).

``drift`` compares, per router, the running config with the intended one (what a push would
change) and with the startup config (**unsaved changes**: lost on the next reboot).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mailbox
import re
import subprocess
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from simpul.errors import ConfigError, SimpulError
from simpul.inventory.models import Inventory
from simpul.results import Result, Status
from simpul.runner import Hook, run_each

from .connection import open_session
from .drivers import FrrDriver, driver_for
from .render import render

log = logging.getLogger(__name__)

_VOLATILE = re.compile(
    r"^(Building configuration\.\.\.|Current configuration\s*:|! Last configuration change|"
    r"! NVRAM config last updated|! No configuration change since|ntp clock-period|!Time:|"
    r"# \w{3}/\d{2}/\d{4} \d\d:\d\d:\d\d by RouterOS|# \d{4}-\d{2}-\d{2} \d\d:\d\d:\d\d by RouterOS|"
    r"!Last configuration was)")
_SECRETS = [
    re.compile(r"^(\s*(?:enable )?(?:password|secret) (?:\d+ )?)(\S+)(.*)$"),
    re.compile(r"^(\s*username \S+ .*?(?:secret|password) (?:\d+ )?)(\S+)(.*)$"),
    re.compile(r"^(\s*snmp-server community )(\S+)(.*)$"),
    re.compile(r"^(\s*snmp-server user \S+ \S+ v3 auth \S+ )(\S+)(.*)$"),
    re.compile(r"^(\s*local-user \S+ password (?:irreversible-cipher|cipher) )(\S+)(.*)$"),
    re.compile(r"^(\s*snmp-agent usm-user v3 \S+ (?:authentication|privacy)-mode \S+ cipher )(\S+)(.*)$"),
    re.compile(r"^(.*\b(?:authentication-|encryption-)?password=)(\"[^\"]*\"|\S+)(.*)$"),
]


def _hash(secret: str) -> str:
    return "<secret sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12] + ">"


def normalise(config: str) -> str:
    """Running config as it goes into git: volatile lines dropped, secrets hashed (stable)."""
    out = []
    for line in config.splitlines():
        if _VOLATILE.match(line.strip()) or line.strip() == "!":
            continue  # '!' separators only mark blocks (FRR prints one more after a new block)
        for pat in _SECRETS:
            m = pat.match(line)
            if m:
                line = f"{m.group(1)}{_hash(m.group(2))}{m.group(3)}"
                break
        out.append(line.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out).rstrip() + "\n"


def fetch_one(inv: Inventory, name: str, known_hosts: Path, *, timeout: float = 10.0) -> Result:
    """The normalised running config of one router (``value``: the text for git)."""
    with open_session(inv, name, known_hosts, timeout=timeout) as s:
        drv = driver_for(s, inv)
        text = normalise(drv.get_config("running"))
        if isinstance(drv, FrrDriver):  # the host part of a Linux+FRR router
            acl = drv.helper("acl-show")
            text += ("! host: management ACL (nftables table simpul_mgmt) admits ssh,snmp from "
                     + (" ".join(acl.get("admit", [])) or "nowhere") + "\n") if acl.get("present") \
                else "! host: no management ACL\n"
    return Result(name, Status.OK, f"{len(text.splitlines())} lines", value=text)


class GitRepo:
    """The backup repository (created on first use; commits as 'simpul net backup')."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        cp = subprocess.run(["git", "-C", str(self.path), "-c", "user.name=simpul net backup",
                             "-c", "user.email=noc@simpul.invalid", "-c", "commit.gpgsign=false", *args],
                            capture_output=True, text=True, timeout=60, check=False)
        if cp.returncode != 0:
            raise SimpulError(f"git {args[0]} in {self.path} failed: {cp.stderr.strip()[:300]}")
        return cp.stdout

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").exists():
            self.git("init", "-q")

    def commit(self, files: dict[str, str], message: str) -> tuple[str | None, list[str]]:
        """Write ``files`` (relative path -> text); commit if anything changed.

        Returns (commit id or None, changed paths).
        """
        self.ensure()
        for rel, text in files.items():
            p = self.path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        self.git("add", "-A", "--", *files)
        changed = [ln for ln in self.git("diff", "--cached", "--name-only").splitlines() if ln]
        if not changed:
            return None, []
        names = sorted(Path(c).stem for c in changed)
        self.git("commit", "-q", "-m", f"{message}: {', '.join(names)}",
                 "-m", f"{len(names)} device(s) changed")
        return self.git("rev-parse", "HEAD").strip(), changed


def backup(inv: Inventory, names: Sequence[str], known_hosts: Path, repo: Path, *,
           parallel: int = 20, hooks: Sequence[Hook] = ()) -> tuple[list[Result], str | None, list[str]]:
    """Back up ``names`` into git at ``repo``: one commit for the whole run (if anything changed).

    Returns the per-router results, the commit id (None if nothing changed) and the changed
    device names. Routers that failed keep their previous file.
    """
    results = run_each(list(names), lambda n: fetch_one(inv, n, known_hosts), parallel=parallel,
                       hooks=hooks)
    files = {f"{r.target}.cfg": str(r.value) for r in results if r.ok and r.value is not None}
    commit, changed = GitRepo(repo).commit(files, "simpul net backup") if files else (None, [])
    changed_names = sorted(Path(c).stem for c in changed)
    for r in results:
        if r.ok and r.target in changed_names:
            r.status = Status.CHANGED
            r.message += "; changed since the last backup"
    return results, commit, changed_names


# --- drift ----------------------------------------------------------------------------------------


def drift_one(inv: Inventory, name: str, known_hosts: Path, *, timeout: float = 10.0) -> Result:
    """Running vs intended and running vs startup; CHANGED (drift) if either differs."""
    rendered = render(inv, name)
    with open_session(inv, name, known_hosts, timeout=timeout) as s:
        drv = driver_for(s, inv)
        change = drv.compare(rendered)
        unsaved = drv.unsaved()
    parts = []
    if not change.empty:
        parts.append(f"running != intended ({change.config.summary()}"
                     + (f", host: {len(change.host)}" if change.host else "") + ")")
    if not unsaved.empty:
        parts.append(f"running != startup: unsaved changes ({unsaved.summary()})")
    data = {"intended": {"commands": change.config.commands, "host": change.host,
                         "removed": change.config.removed, "added": change.config.added},
            "unsaved": {"commands": unsaved.commands, "removed": unsaved.removed, "added": unsaved.added}}
    if not parts:
        return Result(name, Status.OK, "no drift: running = intended = startup", data=data)
    diff = ""
    if not change.empty:
        diff += "# running -> intended (what a push would send)\n" + change.text()
    if not unsaved.empty:
        # commands that would turn startup into running: the unsaved lines
        diff += "# unsaved: startup -> running\n" + unsaved.text()
    return Result(name, Status.CHANGED, "; ".join(parts), data=data, diff=diff)


def drift(inv: Inventory, names: Sequence[str], known_hosts: Path, *, parallel: int = 20,
          hooks: Sequence[Hook] = ()) -> list[Result]:
    return run_each(list(names), lambda n: drift_one(inv, n, known_hosts), parallel=parallel,
                    hooks=hooks)


# --- change notification --------------------------------------------------------------------------


def notify(target: str, subject: str, body: str, *, sender: str = "simpul@localhost",
           to: str = "noc@localhost") -> str:
    """Deliver a change notice: ``mbox:PATH``, ``maildir:PATH`` or an ``http(s)://`` webhook.

    The NOC reads the mbox/maildir with any mail client; a webhook gets JSON
    ``{"subject", "text"}`` (e.g. a chat bridge). Returns where it went.
    """
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg.set_content(body)
    kind, _, where = target.partition(":")
    if kind == "mbox" and where:
        box: mailbox.Mailbox = mailbox.mbox(where)
    elif kind == "maildir" and where:
        box = mailbox.Maildir(where, create=True)
    elif kind in ("http", "https"):
        req = urllib.request.Request(target, data=json.dumps({"subject": subject, "text": body}).encode(),  # noqa: S310
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310  # the NOC's own URL
            resp.read()
        return target
    else:
        raise ConfigError(f"--notify {target}: use mbox:PATH, maildir:PATH or an http(s):// URL")
    box.lock()
    try:
        box.add(msg)
        box.flush()
    finally:
        box.unlock()
        box.close()
    return target
