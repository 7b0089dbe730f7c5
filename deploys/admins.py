"""Admin accounts from the inventory (control ACC-07), as pure functions.

:func:`wanted` says what every inventory admin's account on one host should be today (present
with exactly these keys, or locked and why); :data:`STATE_SCRIPT` / :func:`state_script` is the
read-only shell snippet that reports the accounts as they are; :func:`parse_state` reads its
output and :func:`drift` compares the two. The deploy (:mod:`simpul.deploys.families`) runs the
``fix`` of every drifted account; the audit (:mod:`simpul.deploys.checks`) reports the
``problems``. Nothing here touches the network.

Rules (docs/hardening.md, "Admin accounts"):

- a present admin has a login shell, is in ``simpul-ssh`` (SSH-07 AllowGroups), is in ``sudo``
  and in ``/etc/sudoers.d/61-simpul-admins`` only with ``sudo: true``, and ``authorized_keys``
  holds exactly the inventory keys (anything else, ``authorized_keys2`` too, is removed); an
  inventory ``expires`` (the last day the account works) becomes the account expiry of the day
  after, so the host refuses the login even when nobody runs apply;
- an admin who is ``absent``, past ``expires``, or not listed on this server is *locked*
  (``usermod -L -e 1``, no keys, out of ``simpul-ssh`` and ``sudo``); the home is kept for audit;
- other members of ``simpul-ssh`` (hand-added) are taken out of it;
- the deploy user and system accounts (UID < 1000) are never touched.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from simpul.deploys.hostvars import SSH_GROUP, HostVars

SUDO_GROUP = "sudo"
ADMIN_SHELL = "/bin/bash"
SUDOERS_PATH = "/etc/sudoers.d/61-simpul-admins"
UID_MIN = 1000
EPOCH = date(1970, 1, 1)
HEADER = "# Managed by Simpul (simpul harden apply, ACC-07). Local edits are reported as drift and reverted.\n"


@dataclass(frozen=True)
class Wanted:
    """What one admin's account on one host should be today."""

    name: str
    present: bool
    full_name: str = ""
    sudo: bool = False
    keys: tuple[str, ...] = ()
    expire: date | None = None  # account expiry to set: the day after the inventory's last day
    reason: str = ""  # why the account is locked

    @property
    def authorized_keys(self) -> str:
        return authorized_keys(self.name, self.keys)


def wanted(hv: HostVars, today: date) -> tuple[Wanted, ...]:
    """Per inventory admin: present (with keys, sudo, expiry) or locked (with the reason)."""
    out: list[Wanted] = []
    for a in hv.admins:
        if a.name == hv.ssh_user:  # the inventory check refuses this; never lock the deploy user
            continue
        reason = ""
        if a.state == "absent":
            reason = "state: absent"
        elif not a.granted:
            reason = f"not in servers.{hv.name}.admins"
        elif a.expires is not None and a.expires < today:
            reason = f"expired on {a.expires.isoformat()}"
        if reason:
            out.append(Wanted(a.name, False, a.full_name, reason=reason))
        else:
            expire = a.expires + timedelta(days=1) if a.expires else None
            out.append(Wanted(a.name, True, a.full_name, a.sudo, a.keys, expire))
    return tuple(out)


def authorized_keys(name: str, keys: Sequence[str]) -> str:
    return (HEADER + f"# The inventory's public keys for {name} (admins.{name}.public_keys); "
            "keys added here are removed.\n" + "".join(f"{k}\n" for k in keys))


def sudoers(accounts: Sequence[Wanted]) -> str:
    """``/etc/sudoers.d/61-simpul-admins``: the present admins with ``sudo: true``.

    Admins have no password (SSH keys only, SSH-02), so sudo cannot ask for one: the rule is
    NOPASSWD, by name (a hand-added member of group sudo gets nothing from it), and every command
    is logged (ACC-02).
    """
    names = [a.name for a in accounts if a.present and a.sudo]
    body = "".join(f"{n} ALL=(ALL:ALL) NOPASSWD: ALL\n" for n in names)
    return (HEADER + "# ACC-07: inventory admins with sudo: true "
            "(key-only accounts without a password; commands logged by ACC-02)\n"
            + (body or "# no inventory admin has sudo on this host\n"))


# --- the host's state ---------------------------------------------------------------------------

def state_script(names: Sequence[str]) -> str:
    """Read-only shell snippet printing the accounts of ``names`` and the simpul-ssh members.

    One tab-separated record per line: ``U`` passwd entry, ``S`` locked/open + expiry day, ``G``
    groups, ``D``/``F`` mode, owner (and sha256) of ``.ssh`` and ``authorized_keys``, ``K``/``K2``
    the key lines of ``authorized_keys``/``authorized_keys2``, ``L`` a symbolic link where a file
    or directory belongs (never followed: it runs as root and the admin owns ``.ssh``), ``M`` the
    members of simpul-ssh, ``X`` the sha256 of the sudoers drop-in. Never prints a password hash.
    """
    users = " ".join(shlex.quote(n) for n in names)
    keys = ("grep -v '^[[:space:]]*#' \"$h/.ssh/{f}\" | grep . | sed \"s/^/{k}\\t$u\\t/\"")
    return f"""for u in {users}; do
  e=$(getent passwd "$u") || continue
  printf 'U\\t%s\\n' "$e"
  printf 'S\\t%s\\t%s\\n' "$u" "$(awk -F: -v u="$u" '$1==u{{print (substr($2,1,1)=="!" ? "locked" : "open") "\\t" $8}}' /etc/shadow)"
  printf 'G\\t%s\\t%s\\n' "$u" "$(id -nG "$u")"
  h=$(printf '%s' "$e" | cut -d: -f6)
  if [ -L "$h/.ssh" ]; then printf 'L\\t%s\\t.ssh\\n' "$u"; continue; fi
  [ -d "$h/.ssh" ] || continue
  printf 'D\\t%s\\t%s\\n' "$u" "$(stat -c '%a %U' "$h/.ssh")"
  for f in authorized_keys authorized_keys2; do
    [ -L "$h/.ssh/$f" ] && printf 'L\\t%s\\t%s\\n' "$u" "$f"
  done
  if [ -f "$h/.ssh/authorized_keys" ] && [ ! -L "$h/.ssh/authorized_keys" ]; then
    printf 'F\\t%s\\t%s %s\\n' "$u" "$(stat -c '%a %U' "$h/.ssh/authorized_keys")" "$(sha256sum < "$h/.ssh/authorized_keys" | cut -d' ' -f1)"
    {keys.format(f="authorized_keys", k="K")}
  fi
  if [ -f "$h/.ssh/authorized_keys2" ] && [ ! -L "$h/.ssh/authorized_keys2" ]; then
    {keys.format(f="authorized_keys2", k="K2")}
  fi
done
printf 'M\\t%s\\n' "$(getent group {SSH_GROUP} | cut -d: -f4)"
if [ -f {SUDOERS_PATH} ]; then printf 'X\\t%s\\n' "$(sha256sum < {SUDOERS_PATH} | cut -d' ' -f1)"; fi
true"""


@dataclass
class Account:
    """One account as the host has it."""

    name: str
    uid: int = -1
    gecos: str = ""
    home: str = ""
    shell: str = ""
    locked: bool = False
    expire_day: int | None = None  # days since 1970-01-01 (shadow field 8)
    groups: set[str] = field(default_factory=set)
    ssh_dir: tuple[str, str] | None = None  # mode, owner
    keys_file: tuple[str, str, str] | None = None  # mode, owner, sha256
    keys: list[str] = field(default_factory=list)
    keys2: list[str] = field(default_factory=list)  # authorized_keys2 (sshd reads it too)
    links: list[str] = field(default_factory=list)  # .ssh entries that are symbolic links


@dataclass
class HostState:
    accounts: dict[str, Account] = field(default_factory=dict)
    ssh_members: list[str] = field(default_factory=list)
    sudoers_sha: str = ""


def parse_state(lines: Sequence[str]) -> HostState:
    """Read the output of :func:`state_script`."""
    st = HostState()
    for line in lines:
        kind, _, rest = line.partition("\t")
        if kind == "M":
            st.ssh_members = [m for m in rest.split(",") if m]
            continue
        if kind == "X":
            st.sudoers_sha = rest.strip()
            continue
        if kind == "U":
            f = rest.split(":")
            if len(f) >= 7:
                st.accounts[f[0]] = Account(f[0], int(f[2]) if f[2].isdigit() else -1, f[4], f[5], f[6])
            continue
        name, _, val = rest.partition("\t")
        a = st.accounts.get(name)
        if a is None:
            continue
        if kind == "S":
            lk, _, exp = val.partition("\t")
            a.locked = lk == "locked"
            a.expire_day = int(exp) if exp.strip().isdigit() else None
        elif kind == "G":
            a.groups = set(val.split())
        elif kind == "D":
            mode, _, owner = val.partition(" ")
            a.ssh_dir = (mode, owner)
        elif kind == "F":
            p = val.split(" ")
            if len(p) == 3:
                a.keys_file = (p[0], p[1], p[2])
        elif kind == "K":
            a.keys.append(" ".join(val.split()))
        elif kind == "K2":
            a.keys2.append(" ".join(val.split()))
        elif kind == "L":
            a.links.append(val.strip())
    return st


# --- drift ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drift:
    """One account that differs: what is wrong (for plan and audit) and the fix (a shell command;
    empty when Simpul refuses to touch the account)."""

    account: str
    problems: tuple[str, ...]
    fix: str


def _blob(key: str) -> str:
    parts = key.split()
    return parts[1] if len(parts) > 1 else key


def short_key(key: str) -> str:
    """``ssh-ed25519 ...Gm4Rk9 ani@laptop`` — enough to recognise a key, short enough for a report."""
    parts = key.split()
    if len(parts) < 2:
        return key[:40]
    return " ".join([parts[0], "..." + parts[1][-8:], *parts[2:3]])


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write_keys(u: str, content: str) -> str:
    """Replace ``~u/.ssh/authorized_keys`` safely: the admin owns ``.ssh``, so never follow a
    link they planted (mktemp + rename replaces a symlink instead of writing through it)."""
    q = shlex.quote(u)
    return (f"h=$(getent passwd {q} | cut -d: -f6); g=$(id -gn {q}); "
            "[ -L \"$h/.ssh\" ] && rm -f \"$h/.ssh\"; "
            f"install -d -m 700 -o {q} -g \"$g\" \"$h/.ssh\" && "
            "t=$(mktemp \"$h/.ssh/.simpul.XXXXXX\") && "
            f"printf '%s' {shlex.quote(content)} > \"$t\" && chown {q}:\"$g\" \"$t\" && chmod 600 \"$t\" && "
            "mv -f -T \"$t\" \"$h/.ssh/authorized_keys\" && rm -f \"$h/.ssh/authorized_keys2\"")


def _account_fix(w: Wanted) -> str:
    q = shlex.quote(w.name)
    gecos = shlex.quote(w.full_name)
    expire = shlex.quote(w.expire.isoformat() if w.expire else "")
    sudo = (f"usermod -aG {SUDO_GROUP} {q}" if w.sudo else
            f"if id -nG {q} | tr ' ' '\\n' | grep -qx {SUDO_GROUP}; then gpasswd -d {q} {SUDO_GROUP} >/dev/null; fi")
    return "; ".join([
        "set -e",
        f"getent group {SSH_GROUP} >/dev/null || groupadd --system {SSH_GROUP}",
        f"if ! getent passwd {q} >/dev/null; then useradd --create-home --user-group --shell {ADMIN_SHELL} "
        f"--comment {gecos} {q} && chmod 750 \"$(getent passwd {q} | cut -d: -f6)\"; fi",
        # no password (keys only) but not locked; a locked account is re-opened without its old hash
        f"case \"$(getent shadow {q} | cut -d: -f2)\" in ''|'!'*) usermod -p '*' {q};; esac",
        f"usermod -s {ADMIN_SHELL} -c {gecos} -e {expire} {q}",
        f"usermod -aG {SSH_GROUP} {q}",
        sudo,
        _write_keys(w.name, w.authorized_keys),
    ])


def _lock_fix(w: Wanted) -> str:
    q = shlex.quote(w.name)
    out = ["set -e", f"usermod -L -e 1 {q}"]
    for g in (SSH_GROUP, SUDO_GROUP):
        out.append(f"if id -nG {q} | tr ' ' '\\n' | grep -qx {g}; then gpasswd -d {q} {g} >/dev/null; fi")
    out.append(f"h=$(getent passwd {q} | cut -d: -f6); "
               "if [ -L \"$h/.ssh\" ]; then rm -f \"$h/.ssh\"; fi; "
               "if [ -s \"$h/.ssh/authorized_keys\" ] || [ -L \"$h/.ssh/authorized_keys\" ]; then "
               "t=$(mktemp \"$h/.ssh/.simpul.XXXXXX\") && chmod 600 \"$t\" && "
               "mv -f -T \"$t\" \"$h/.ssh/authorized_keys\"; fi; rm -f \"$h/.ssh/authorized_keys2\"")
    return "; ".join(out)


def _present_problems(w: Wanted, a: Account) -> list[str]:
    bad: list[str] = []
    if a.locked:
        bad.append("account locked")
    if a.shell != ADMIN_SHELL:
        bad.append(f"shell {a.shell or '(none)'} (want {ADMIN_SHELL})")
    if a.gecos != w.full_name:
        bad.append(f"full name '{a.gecos}' (want '{w.full_name}')")
    want_day = (w.expire - EPOCH).days if w.expire else None
    if a.expire_day != want_day:
        cur = (EPOCH + timedelta(days=a.expire_day)).isoformat() if a.expire_day is not None else "never"
        bad.append(f"account expiry {cur} (want {w.expire.isoformat() if w.expire else 'never'})")
    if SSH_GROUP not in a.groups:
        bad.append(f"not in {SSH_GROUP} (cannot log in over SSH)")
    if w.sudo and SUDO_GROUP not in a.groups:
        bad.append(f"not in {SUDO_GROUP} (inventory: sudo: true)")
    if not w.sudo and SUDO_GROUP in a.groups:
        bad.append(f"in {SUDO_GROUP} but the inventory says sudo: false")
    want_blobs = {_blob(k) for k in w.keys}
    have = a.keys + a.keys2
    extra = [k for k in have if _blob(k) not in want_blobs]
    missing = [k for k in w.keys if _blob(k) not in {_blob(h) for h in a.keys}]
    if extra:
        bad.append(f"{len(extra)} key(s) not in the inventory: " + "; ".join(short_key(k) for k in extra))
    if missing:
        bad.append(f"{len(missing)} inventory key(s) missing: " + "; ".join(short_key(k) for k in missing))
    if a.keys_file is None:
        if not missing:
            bad.append("no authorized_keys file")
    else:
        mode, owner, sha = a.keys_file
        if (mode, owner) != ("600", w.name):
            bad.append(f"authorized_keys {mode} {owner} (want 600 {w.name})")
        elif sha != _sha256(w.authorized_keys) and not extra and not missing:
            bad.append("authorized_keys differs from the inventory in comments or order")
    if a.links:
        bad.append("symbolic link instead of " + ", ".join(a.links) + " (not followed)")
    if a.ssh_dir is not None and a.ssh_dir != ("700", w.name):
        bad.append(f".ssh {a.ssh_dir[0]} {a.ssh_dir[1]} (want 700 {w.name})")
    return bad


def _locked_problems(a: Account, today_day: int) -> list[str]:
    bad: list[str] = []
    if not a.locked:
        bad.append("not locked")
    if a.expire_day is None or a.expire_day > today_day:
        bad.append("account not expired")
    for g in (SSH_GROUP, SUDO_GROUP):
        if g in a.groups:
            bad.append(f"still in {g}")
    if a.links:
        bad.append("symbolic link instead of " + ", ".join(a.links) + " (not followed)")
    if a.keys or a.keys2:
        bad.append(f"{len(a.keys) + len(a.keys2)} key(s) still authorised: "
                   + "; ".join(short_key(k) for k in a.keys + a.keys2))
    return bad


def drift(accounts: Sequence[Wanted], state: HostState, deploy_user: str, today: date) -> list[Drift]:
    """Every account that differs from the inventory, with its problems and its fix."""
    out: list[Drift] = []
    today_day = (today - EPOCH).days
    for w in accounts:
        a = state.accounts.get(w.name)
        if a is not None and 0 <= a.uid < UID_MIN:
            out.append(Drift(w.name, (f"{w.name} is a system account here (uid {a.uid}); Simpul does "
                                      "not manage it as an admin",), ""))
            continue
        if w.present:
            if a is None:
                out.append(Drift(w.name, ("no account",), _account_fix(w)))
                continue
            bad = _present_problems(w, a)
            if bad:
                out.append(Drift(w.name, tuple(bad), _account_fix(w)))
        elif a is not None:
            bad = _locked_problems(a, today_day)
            if bad:
                out.append(Drift(w.name, (f"should be locked ({w.reason}): " + ", ".join(bad),), _lock_fix(w)))
    allowed = {deploy_user} | {w.name for w in accounts if w.present}
    for m in state.ssh_members:
        if m not in allowed and m not in {w.name for w in accounts}:
            out.append(Drift(m, (f"{m} is in {SSH_GROUP} but is not an inventory admin of this host",),
                             f"gpasswd -d {shlex.quote(m)} {SSH_GROUP} >/dev/null"))
    return out


def sudoers_problem(accounts: Sequence[Wanted], state: HostState) -> str:
    """"" when the sudoers drop-in is what the inventory says, else what is wrong."""
    if not state.sudoers_sha:
        return f"{SUDOERS_PATH} missing"
    if state.sudoers_sha != _sha256(sudoers(accounts)):
        return f"{SUDOERS_PATH} differs from the inventory's sudo admins"
    return ""


def summary(accounts: Sequence[Wanted], state: HostState) -> str:
    """Evidence for a passing audit: who is present (with sudo), who is locked, and why."""
    present = [f"{w.name}{' (sudo)' if w.sudo else ''}: {len(w.keys)} key(s)" for w in accounts if w.present]
    locked = [f"{w.name} ({w.reason})" for w in accounts if not w.present and w.name in state.accounts]
    parts = [f"admins: {', '.join(present)}" if present else "no admins on this host"]
    if locked:
        parts.append(f"locked: {', '.join(locked)}")
    parts.append(f"{SSH_GROUP}: {', '.join(state.ssh_members) or '(empty)'}")
    return "; ".join(parts)
