"""The hand-edited hardening fixtures: cases no lab server shows, derived from recorded ones.

A lab server is a network namespace (kernel-global settings are checked as configuration
only, auditd and chronyd do not run), and a fresh lab server already passes some controls
(no empty passwords, no duplicate UIDs, rsyslog running, ...). Each variant below starts from
a recorded fixture, changes the answers of named commands or the context, and states the
verdict it must give (``passed``); the script refuses to write a variant whose check disagrees,
so a variant pins a verdict decided by a person, not whatever the code says. The detail text is
taken from the check (review it in the diff). Run after recording (no root needed)::

    .venv/bin/python tests/support/factvariants.py
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (for support.*)

from simpul.deploys.checks import CHECKS
from simpul.deploys.ops import boot_start_script
from support.hardening_fixtures import FACTS_DIR, load, replay_ctx, write

Answer = tuple[int, str]


def boot(service: str, systemd_unit: str | None = None) -> str:
    """The command the checks run (through the BootStart fact) to learn whether a service
    starts at boot."""
    return f"( {boot_start_script(service, systemd_unit)} ); echo \"__simpul_rc=$?\""


def not_at_boot(service: str) -> Answer:
    return 0, f"no start link for {service} in /etc/rcS.d or /etc/rc2.d\n__simpul_rc=1\n"


def at_boot(link: str) -> Answer:
    return 0, f"{link}\n__simpul_rc=0\n"


@dataclass
class Variant:
    subject: str
    case: str
    base: str  # the recorded fixture it starts from (case name)
    why: str  # what was changed, and why no lab server shows it
    passed: bool
    answers: dict[str, Answer] = field(default_factory=dict)  # command → (rc, output)
    context: Callable[[dict[str, Any]], None] | None = None


def _unconfined(c: dict[str, Any]) -> None:
    c["confined"] = False


def _open_8080(c: dict[str, Any]) -> None:
    c["outside"]["open_tcp"] = [22, 8080]


KILL0 = "kill -0 $(cat {} 2>/dev/null) 2>/dev/null"
SHADOW_EMPTY = "awk -F: '($2==\"\"){print $1}' /etc/shadow"

VARIANTS = [
    Variant("ACC-03", "account-with-empty-password", "hardened-server",
            "an account 'tamu' whose /etc/shadow password field is empty (the lab image has none)", False,
            {SHADOW_EMPTY: (0, "tamu\n")}),
    Variant("ACC-04", "duplicate-uid", "hardened-server",
            "a second account with UID 0 (the lab image has none)", False,
            {"cut -d: -f3 /etc/passwd | sort | uniq -d": (0, "0\n")}),
    Variant("ACC-05", "system-account-with-shell", "hardened-server",
            "the system account 'games' got /bin/bash (Debian ships it with nologin)", False,
            {"awk -F: '($3<1000 && $1!=\"root\" && $1!=\"sync\" && $1!=\"shutdown\" && $1!=\"halt\" && "
             "$1!=\"postgres\" && $1!=\"simpul\" && $7!~/(nologin|false)$/){print $1}' /etc/passwd": (0, "games\n")}),
    Variant("PAM-04", "pam-unix-without-strong-hash", "fresh-server",
            "common-password's pam_unix line names neither yescrypt nor sha512 (Debian 12 ships "
            "yescrypt there)", False,
            {"grep -Eq '^password.*pam_unix.so.*(yescrypt|sha512)' /etc/pam.d/common-password": (1, "")}),
    Variant("FW-02", "unexpected-open-port", "hardened-server",
            "the outside scan found TCP 8080 open, which no inventory service explains", False,
            context=_open_8080),
    Variant("LOG-01", "running-but-not-started-at-boot", "hardened-server",
            "rsyslog runs now but has no start link (the lab image enables it; a reboot would lose it)",
            False, {boot("rsyslog"): not_at_boot("rsyslog")}),
    Variant("AUD-01", "unconfined-running-at-boot", "hardened-server",
            "a host that is not a namespace: auditd runs and starts at boot (a lab server cannot run it)",
            True, {KILL0.format("/run/auditd.pid"): (0, ""), boot("auditd"): at_boot("/etc/rc2.d/S01auditd")},
            _unconfined),
    Variant("AUD-01", "unconfined-not-at-boot", "hardened-server",
            "a host that is not a namespace: auditd runs but does not start at boot", False,
            {KILL0.format("/run/auditd.pid"): (0, ""), boot("auditd"): not_at_boot("auditd")}, _unconfined),
    Variant("AUD-02", "unconfined-loaded-rules-incomplete", "hardened-server",
            "a host that is not a namespace: the loaded rules (auditctl -l) lack the time-change, "
            "modules and firewall keys", False,
            {"auditctl -l 2>/dev/null": (0, "-w /etc/passwd -p wa -k identity\n-w /etc/sudoers -p wa -k scope\n"
                                            "-w /etc/ssh/sshd_config -p wa -k sshd\n-w /var/log/lastlog -p wa -k logins\n")},
            _unconfined),
    Variant("AUD-03", "unconfined-not-locked", "hardened-server",
            "a host that is not a namespace: auditctl -s says enabled 1 (rules still changeable)", False,
            {"auditctl -s | grep -q '^enabled 2'": (1, "")}, _unconfined),
    Variant("TIME-01", "unconfined-chronyd-not-at-boot", "hardened-server",
            "a host that is not a namespace: chronyd runs but does not start at boot", False,
            {KILL0.format("/run/chrony/chronyd.pid"): (0, ""), boot("chrony"): not_at_boot("chrony")}, _unconfined),
    Variant("SYS-09", "unconfined-module-loaded", "hardened-server",
            "a host that is not a namespace: usb_storage is loaded although disabled", False,
            {"cat /proc/modules 2>/dev/null": (0, "usb_storage 81920 0 - Live 0x0000000000000000\n")}, _unconfined),
    Variant("SYS-04", "not-loaded-at-boot", "hardened-server",
            "the settings are live and in /etc/sysctl.d, but procps does not start at boot (nothing "
            "would load them after a reboot)", False,
            {boot("procps", "systemd-sysctl"): not_at_boot("procps")}),
    Variant("PKG-02", "not-installed", "fresh-server",
            "unattended-upgrades is not installed (the lab image has it)", False,
            {"dpkg-query -W -f='${Status}' unattended-upgrades | grep -q 'install ok installed'": (1, "")}),
    Variant("PKG-02", "nothing-runs-it", "hardened-server",
            "unattended-upgrades is configured but cron does not start at boot (without systemd, "
            "APT::Periodic runs from /etc/cron.daily)", False, {boot("cron", "apt-daily-upgrade.timer"): not_at_boot("cron")}),
    Variant("PKG-03", "security-updates-pending", "hardened-server",
            "apt sees two pending security updates and a reboot is required (the lab's offline "
            "repository has no newer packages)", False,
            {"apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null | grep '^Inst' | grep -i security":
             (0, "Inst openssl [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])\n"
                 "Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])\n"),
             "test -f /var/run/reboot-required": (0, "")}),
    Variant("FILE-01", "shadow-readable", "hardened-server",
            "/etc/shadow is 0644 (world-readable hashes)", False,
            {"stat -c '%n %a %U %G' /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/passwd- /etc/group- "
             "/etc/shadow- /etc/gshadow- 2>/dev/null":
             (0, "/etc/passwd 644 root root\n/etc/group 644 root root\n/etc/shadow 644 root shadow\n"
                 "/etc/gshadow 640 root shadow\n/etc/passwd- 644 root root\n/etc/group- 644 root root\n"
                 "/etc/shadow- 640 root shadow\n/etc/gshadow- 640 root shadow\n")}),
    Variant("FILE-03", "world-writable-file", "hardened-server",
            "an application left /opt/app/config.php world-writable (the lab image has none)", False,
            {"find / -xdev -type f -perm -0002 ! -path '/proc/*' ! -path '/sys/*' 2>/dev/null | head -50":
             (0, "/opt/app/config.php\n")}),
]


def make(v: Variant) -> dict[str, Any]:
    base = load(FACTS_DIR / v.subject / f"{v.base}.json")
    fx = copy.deepcopy(base)
    if v.context:
        v.context(fx["context"])
    answers = {c["cmd"]: (c["rc"], c["output"]) for c in fx["commands"]} | v.answers
    fx["commands"] = [{"cmd": k, "rc": rc, "output": out} for k, (rc, out) in answers.items()]
    ctx, asked = replay_ctx(fx)
    passed, detail = CHECKS[v.subject](ctx)
    if passed != v.passed:
        raise SystemExit(f"{v.subject}/{v.case}: the check says passed={passed} ({detail}), the variant "
                         f"wants {v.passed}")
    unused = set(v.answers) - set(asked)
    if unused:
        raise SystemExit(f"{v.subject}/{v.case}: the check never runs {sorted(unused)}")
    fx["commands"] = [c for c in fx["commands"] if c["cmd"] in set(asked)]
    fx["case"] = v.case
    fx["origin"] = f"hand-edited: from {v.base}.json; {v.why}"
    fx["expect"] = {"passed": passed, "detail": detail}
    return fx


def main() -> int:
    for v in VARIANTS:
        fx = make(v)
        write(FACTS_DIR / v.subject / f"{v.case}.json", fx)
        print(f"{v.subject}/{v.case}: passed={fx['expect']['passed']}: {fx['expect']['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
