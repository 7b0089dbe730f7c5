"""Read-only checks, one per control: ``CHECKS[control_id](ctx) -> (passed, detail)``.

They run from inside the host through testinfra (``ctx.sh`` runs a command with sudo and returns
exit status and stdout) and combine that with the outside probes (:mod:`simpul.deploys.outside`).
No check changes anything. Kernel-global controls on a confined host (a namespace or container)
are checked as configuration; the audit marks them so (``config_only``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from simpul.deploys import admins as adm
from simpul.deploys import render as r
from simpul.deploys.hostvars import SSH_GROUP, HostVars
from simpul.deploys.outside import Outside

Outcome = tuple[bool, str]


@dataclass
class CheckCtx:
    hv: HostVars
    sh: Callable[[str], tuple[int, str]]
    confined: bool
    outside: Outside
    pubkey: str
    sshd: dict[str, str] = field(default_factory=dict)
    today: date = field(default_factory=date.today)

    def out(self, cmd: str) -> str:
        return self.sh(cmd)[1]

    def ok(self, cmd: str) -> bool:
        return self.sh(cmd)[0] == 0


def sshd_values(ctx: CheckCtx) -> dict[str, str]:
    if not ctx.sshd:
        for line in ctx.out("/usr/sbin/sshd -T 2>/dev/null").splitlines():
            k, _, v = line.partition(" ")
            ctx.sshd.setdefault(k.lower(), v.strip())
    return ctx.sshd


def _sshd(cid: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        vals = sshd_values(ctx)
        if not vals:
            return False, "sshd -T failed (the configuration does not parse)"
        bad = [f"{k}={vals.get(k, '(unset)')} (want {v})" for k, v in r.SSHD_EXPECT[cid].items()
               if vals.get(k, "").lower() != v.lower()]
        extra = _sshd_outside(cid, ctx)
        if extra and not extra[0]:
            bad.append(extra[1])
        if bad:
            return False, "; ".join(bad)
        shown = ", ".join(f"{k} {vals[k]}" for k in r.SSHD_EXPECT[cid] if k in vals and len(vals[k]) < 40)
        return True, (shown + (f"; {extra[1]}" if extra else "")).strip("; ")
    return check


def _sshd_outside(cid: str, ctx: CheckCtx) -> Outcome | None:
    o = ctx.outside
    if cid == "SSH-01":
        if o.root_key_refused is None:
            return None
        return (o.root_key_refused, "outside: root publickey login refused" if o.root_key_refused
                else "outside: root logged in with a key")
    if cid == "SSH-02":
        if not o.auth_methods:
            return None
        ok = o.auth_methods == ["publickey"]
        return ok, f"outside: daemon offers {', '.join(o.auth_methods)}"
    if cid == "SSH-06":
        if not o.kex:
            return None
        good = (o.kex in r.SSH_KEX and o.cipher in r.SSH_CIPHERS and o.mac in r.SSH_MACS)
        weak = [k for k, refused in o.weak_refused.items() if not refused]
        msg = f"outside: negotiated {o.kex} / {o.cipher} / {o.mac}"
        if weak:
            msg += f"; weak {', '.join(weak)} ACCEPTED"
        else:
            msg += "; weak kex/ciphers/MACs refused"
        return good and not weak, msg
    return None


def ssh_10(ctx: CheckCtx) -> Outcome:
    files = ["/etc/ssh/sshd_config"] + [v for k, v in _hostkeys(ctx)]
    out = ctx.out("stat -c '%n %a %U' " + " ".join(shlex.quote(f) for f in files))
    bad = [ln for ln in out.splitlines() if not re.match(r"^\S+ [0-6]00 root$", ln)]
    return (not bad, "; ".join(bad) if bad else f"{len(files)} files 0600 root")


def _hostkeys(ctx: CheckCtx) -> list[tuple[str, str]]:
    return [("hostkey", ln.split(" ", 1)[1]) for ln in ctx.out("/usr/sbin/sshd -T 2>/dev/null").splitlines()
            if ln.startswith("hostkey ")]


def ssh_08(ctx: CheckCtx) -> Outcome:
    ok, detail = _sshd("SSH-08")(ctx)
    text = ctx.out("cat /etc/issue.net")
    if "PERINGATAN" not in text or "WARNING" not in text:
        return False, "banner /etc/issue.net lacks the ID/EN legal warning"
    return ok, detail + "; banner ID+EN present"


# --- accounts and PAM ------------------------------------------------------------------------

def acc_01(ctx: CheckCtx) -> Outcome:
    u = ctx.hv.ssh_user
    if not ctx.ok(f"getent group {SSH_GROUP}"):
        return False, f"group {SSH_GROUP} missing"
    if SSH_GROUP not in ctx.out(f"id -nG {u}").split():
        return False, f"{u} is not in {SSH_GROUP}"
    keyb64 = ctx.pubkey.split()[1]
    if not ctx.ok(f"grep -qF {keyb64} $(getent passwd {u} | cut -d: -f6)/.ssh/authorized_keys"):
        return False, f"the inventory key is not in {u}'s authorized_keys"
    return True, f"{u} in {SSH_GROUP}, inventory key authorised"


def acc_02(ctx: CheckCtx) -> Outcome:
    if not ctx.ok("visudo -c -q"):
        return False, "visudo -c fails"
    text = ctx.out("cat /etc/sudoers /etc/sudoers.d/* 2>/dev/null | grep -v '^#'")
    missing = [w for w in ("use_pty", "logfile") if w not in text]
    return (not missing, f"missing Defaults {', '.join(missing)}" if missing else "use_pty, logfile set")


def acc_07(ctx: CheckCtx) -> Outcome:
    accounts = adm.wanted(ctx.hv, ctx.today)
    state = adm.parse_state(ctx.out(adm.state_script([w.name for w in accounts])).splitlines())
    problems = [f"{d.account}: {'; '.join(d.problems)}"
                for d in adm.drift(accounts, state, ctx.hv.ssh_user, ctx.today)]
    sudo = adm.sudoers_problem(accounts, state)
    if sudo:
        problems.append(sudo)
    return (not problems, " | ".join(problems) if problems else adm.summary(accounts, state))


def _empty_list(cmd: str, what: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        found = [x for x in ctx.out(cmd).split() if x]
        return (not found, f"{what}: {', '.join(found[:20])}" if found else f"no {what}")
    return check


def acc_05(ctx: CheckCtx) -> Outcome:
    u = ctx.hv.ssh_user
    ok, detail = _empty_list(r.system_accounts_with_shell(u), "system accounts with a login shell")(ctx)
    kept = [a for a in r.SHELL_ACCOUNTS[4:] if ctx.ok(f"getent passwd {a} | grep -qv nologin")]
    return ok, detail + (f"; kept on purpose: {', '.join(kept)}" if kept else "")


def _login_defs(ctx: CheckCtx) -> dict[str, str]:
    vals: dict[str, str] = {}
    for ln in ctx.out("grep -E '^[A-Z_]+[[:space:]]' /etc/login.defs").splitlines():
        k, _, v = ln.partition(" ") if " " in ln.split("\t")[0] else ln.partition("\t")
        vals.setdefault(k.strip(), v.strip())
    return vals


def acc_06(ctx: CheckCtx) -> Outcome:
    ld = _login_defs(ctx).get("UMASK", "")
    prof = ctx.ok("grep -qx 'umask 027' /etc/profile.d/60-simpul.sh")
    return (ld == "027" and prof, f"login.defs UMASK {ld or '(unset)'}; profile umask 027: {prof}")


def pam_01(ctx: CheckCtx) -> Outcome:
    m = re.search(r"^\s*minlen\s*=\s*(\d+)", ctx.out("cat /etc/security/pwquality.conf"), re.M)
    minlen = int(m.group(1)) if m else 0
    stack = ctx.ok("grep -Eq '^password\\s+\\S+\\s+pam_pwquality.so' /etc/pam.d/common-password")
    return (minlen >= 14 and stack, f"pwquality minlen={minlen}, in common-password: {stack}")


def pam_02(ctx: CheckCtx) -> Outcome:
    auth = ctx.out("grep -v '^#' /etc/pam.d/common-auth")
    m = re.search(r"^\s*deny\s*=\s*(\d+)", ctx.out("cat /etc/security/faillock.conf"), re.M)
    deny = int(m.group(1)) if m else 0
    ok = "pam_faillock.so preauth" in auth and "pam_faillock.so authfail" in auth and 0 < deny <= 5
    return ok, f"pam_faillock preauth/authfail in common-auth: {'preauth' in auth}; deny={deny or '(unset)'}"


def pam_03(ctx: CheckCtx) -> Outcome:
    ld = _login_defs(ctx)
    try:
        mx, mn, warn = int(ld.get("PASS_MAX_DAYS", "99999")), int(ld.get("PASS_MIN_DAYS", "0")), \
            int(ld.get("PASS_WARN_AGE", "0"))
    except ValueError:
        return False, "login.defs ageing values are not numbers"
    stale = ctx.out("awk -F: '($2 ~ /^[$]/ && ($5==\"\" || $5>365 || $4<1 || $6<7)){print $1}' /etc/shadow").split()
    ok = mx <= 365 and mn >= 1 and warn >= 7 and not stale
    return ok, (f"PASS_MAX_DAYS {mx}, PASS_MIN_DAYS {mn}, PASS_WARN_AGE {warn}"
                + (f"; accounts without ageing: {', '.join(stale)}" if stale else ""))


def pam_04(ctx: CheckCtx) -> Outcome:
    enc = _login_defs(ctx).get("ENCRYPT_METHOD", "")
    stack = ctx.ok("grep -Eq '^password.*pam_unix.so.*(yescrypt|sha512)' /etc/pam.d/common-password")
    return (enc.upper() in ("YESCRYPT", "SHA512") and stack, f"ENCRYPT_METHOD {enc or '(unset)'}; pam_unix hashing set: {stack}")


# --- kernel ------------------------------------------------------------------------------------

def _sysctl_check(cid: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        want = {k: v for k, (v, c) in r.sysctls(ctx.hv, [cid]).items()}
        conf = ctx.out("cat /etc/sysctl.d/60-simpul.conf 2>/dev/null")
        file_vals = dict(re.findall(r"^([\w.]+)\s*=\s*(\S+)", conf, re.M))
        bad = []
        nlive = 0
        for k, v in want.items():
            live = r.is_live_key(k) or not ctx.confined
            if live:
                nlive += 1
                got = ctx.out(f"cat /proc/sys/{k.replace('.', '/')} 2>/dev/null").strip()
                if got != v:
                    bad.append(f"{k}={got or '?'} (want {v})")
            if file_vals.get(k) != v:
                bad.append(f"{k} not persisted in /etc/sysctl.d/60-simpul.conf")
        if bad:
            return False, "; ".join(bad[:8])
        if nlive == len(want):
            return True, f"{len(want)} settings live and persisted"
        return True, f"{len(want)} settings persisted, {nlive} of them checked live"
    return check


def sys_08(ctx: CheckCtx) -> Outcome:
    ok, detail = _sysctl_check("SYS-08")(ctx)
    lim = ctx.ok("grep -Eq '^\\*\\s+hard\\s+core\\s+0' /etc/security/limits.d/60-simpul.conf")
    return ok and lim, f"{detail}; limits hard core 0: {lim}"


def _modules(cid: str, mods: tuple[str, ...]) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        conf = ctx.out("cat /etc/modprobe.d/*.conf 2>/dev/null")
        missing = [m for m in mods if not re.search(rf"^install\s+{re.escape(m)}\s+/bin/(false|true)", conf, re.M)]
        loaded = []
        if not ctx.confined:
            lsmod = ctx.out("cat /proc/modules 2>/dev/null")
            loaded = [m for m in mods if re.search(rf"^{m.replace('-', '_')}\s", lsmod, re.M)]
        bad = ([f"not disabled: {', '.join(missing)}"] if missing else []) + \
            ([f"loaded: {', '.join(loaded)}"] if loaded else [])
        return (not bad, "; ".join(bad) if bad else f"{len(mods)} modules disabled")
    return check


# --- firewall ----------------------------------------------------------------------------------

def _nft(ctx: CheckCtx) -> str:
    return ctx.out("nft list table inet simpul 2>&1")


def fw_01(ctx: CheckCtx) -> Outcome:
    t = _nft(ctx)
    if "chain input" not in t:
        return False, "table inet simpul is not loaded"
    pol = re.search(r"hook input priority \S+; policy (\w+);", t)
    ok = bool(pol and pol.group(1) == "drop")
    o = ctx.outside
    seen = f"outside: {o.filtered_tcp} TCP ports filtered, {o.closed_tcp_refused} refused"
    return ok and o.filtered_tcp > 0, f"input policy {pol.group(1) if pol else '?'}; {seen}"


def fw_02(ctx: CheckCtx) -> Outcome:
    expected = sorted({p.port for p in ctx.hv.ports if p.proto == "tcp"})
    extra = [p for p in ctx.outside.open_tcp if p not in expected]
    return (not extra, f"open from the management LAN: {ctx.outside.open_tcp or 'none'}; "
                       f"inventory: {expected}" + (f"; UNEXPECTED {extra}" if extra else ""))


def fw_03(ctx: CheckCtx) -> Outcome:
    t = _nft(ctx)
    m = re.search(r"set noc_v4 \{[^}]*elements = \{([^}]*)\}", t, re.S)
    elements = sorted(e.strip() for e in m.group(1).split(",")) if m else []
    want = sorted(str(n) for n in ctx.hv.noc_ranges)
    bad = []
    if elements != want:
        bad.append(f"noc set {elements} (want {want})")
    for p in ctx.hv.ports:
        if p.management and not re.search(rf"ip saddr @noc_v4 {p.proto} dport {p.port} accept", t):
            bad.append(f"{p.service} {p.proto}/{p.port} not limited to the NOC")
        if p.management and re.search(rf"^\s*{p.proto} dport {p.port} accept", t, re.M):
            bad.append(f"{p.service} {p.proto}/{p.port} open to everyone")
    return (not bad, "; ".join(bad) if bad else f"management only from {', '.join(want)}")


def fw_04(ctx: CheckCtx) -> Outcome:
    inc = ctx.ok(f"grep -qxF 'include \"/etc/nftables.d/*.nft\"' /etc/nftables.conf && test -f {r.NFT_FILE}")
    return inc, "/etc/nftables.conf includes /etc/nftables.d/simpul.nft" if inc else "not persisted"


# --- logging, audit, time, IPS --------------------------------------------------------------

def _running(ctx: CheckCtx, pidfile: str) -> bool:
    return ctx.ok(f"kill -0 $(cat {pidfile} 2>/dev/null) 2>/dev/null")


def log_01(ctx: CheckCtx) -> Outcome:
    inst = ctx.ok("dpkg-query -W -f='${Status}' rsyslog | grep -q 'install ok installed'")
    run = _running(ctx, "/run/rsyslogd.pid")
    return inst and run, f"installed: {inst}, running: {run}"


def log_02(ctx: CheckCtx) -> Outcome:
    conf = ctx.out("cat /etc/rsyslog.d/*.conf 2>/dev/null")
    ip = str(ctx.hv.log_host_ip)
    ok = bool(re.search(rf'omfwd"\s+target="{re.escape(ip)}"\s+port="514"\s+protocol="tcp"', conf))
    est = ctx.out(f"ss -Htn state established dst {ip} dport = :514 2>/dev/null").strip()
    return ok, f"forwarding to {ctx.hv.log_host} ({ip}:514/tcp) configured: {ok}; connection up: {bool(est)}"


def log_03(ctx: CheckCtx) -> Outcome:
    listening = ctx.out("ss -Hltn sport = :514 2>/dev/null").strip()
    return bool(listening), "rsyslog listens on TCP 514" if listening else "nothing listens on TCP 514"


def aud_01(ctx: CheckCtx) -> Outcome:
    inst = ctx.ok("dpkg-query -W -f='${Status}' auditd | grep -q 'install ok installed'")
    if ctx.confined:
        return inst, f"auditd installed: {inst} (the kernel audit system is not available in a namespace)"
    run = _running(ctx, "/run/auditd.pid")
    return inst and run, f"installed: {inst}, running: {run}"


AUDIT_KEYS = ("identity", "scope", "sshd", "time-change", "logins", "modules", "firewall")


def aud_02(ctx: CheckCtx) -> Outcome:
    src = "cat /etc/audit/rules.d/*.rules 2>/dev/null" if ctx.confined else "auditctl -l 2>/dev/null"
    text = ctx.out(src)
    missing = [k for k in AUDIT_KEYS if not re.search(rf"(-k|key=)\s*{re.escape(k)}\b", text)]
    where = "rules files" if ctx.confined else "loaded rules (auditctl -l)"
    return (not missing, f"{where}: missing keys {', '.join(missing)}" if missing
            else f"{where}: {len(AUDIT_KEYS)} rule groups present")


def aud_03(ctx: CheckCtx) -> Outcome:
    if ctx.confined:
        ok = ctx.ok("grep -qx -- '-e 2' /etc/audit/rules.d/60-simpul.rules")
        return ok, "rules file ends with -e 2" if ok else "-e 2 missing from the rules"
    ok = ctx.ok("auditctl -s | grep -q '^enabled 2'")
    return ok, "audit configuration locked (enabled 2)" if ok else "audit not locked (auditctl -s)"


def time_01(ctx: CheckCtx) -> Outcome:
    conf = ctx.out("cat /etc/chrony/chrony.conf")
    servers = re.findall(r"^\s*(?:server|pool)\s+(\S+)", conf, re.M)
    pools = re.findall(r"^\s*pool\s", conf, re.M)
    ok = sorted(servers) == sorted(ctx.hv.ntp_servers) and not pools
    detail = f"chrony sources {servers} (want {list(ctx.hv.ntp_servers)})"
    if not ctx.confined:
        run = _running(ctx, "/run/chrony/chronyd.pid")
        ok = ok and run
        detail += f"; chronyd running: {run}"
    return ok, detail


def ips_01(ctx: CheckCtx) -> Outcome:
    rc, out = ctx.sh("fail2ban-client status sshd 2>&1")
    return rc == 0, "fail2ban jail sshd active" if rc == 0 else f"jail sshd not active: {out.strip()[:120]}"


# --- software and files ------------------------------------------------------------------------

def pkg_01(ctx: CheckCtx) -> Outcome:
    return _empty_list(f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {' '.join(r.LEGACY_PACKAGES)} "
                       "2>/dev/null | awk '/ installed$/{print $1}'", "legacy packages installed")(ctx)


def pkg_02(ctx: CheckCtx) -> Outcome:
    inst = ctx.ok("dpkg-query -W -f='${Status}' unattended-upgrades | grep -q 'install ok installed'")
    on = ctx.ok("grep -Eq 'APT::Periodic::Unattended-Upgrade \"1\"' /etc/apt/apt.conf.d/*")
    return inst and on, f"unattended-upgrades installed: {inst}, enabled: {on}"


def pkg_03(ctx: CheckCtx) -> Outcome:
    pending = [ln.split()[1] for ln in ctx.out(
        "apt-get -s -o Debug::NoLocking=1 upgrade 2>/dev/null | grep '^Inst' | grep -i security").splitlines()
        if len(ln.split()) > 1]
    reboot = ctx.ok("test -f /var/run/reboot-required")
    age = ctx.out("stat -c %y /var/lib/apt/lists/partial 2>/dev/null | cut -d. -f1").strip()
    ok = not pending and not reboot
    return ok, (f"pending security updates: {len(pending)}"
                + (f" ({', '.join(pending[:10])})" if pending else "")
                + f"; reboot required: {reboot}; package lists from {age or 'unknown'}")


def _modes(cid: str) -> Callable[[CheckCtx], Outcome]:
    def check(ctx: CheckCtx) -> Outcome:
        rows = [x for x in r.FILE_MODES if x[4] == cid]
        out = ctx.out("stat -c '%n %a %U %G' " + " ".join(p for p, *_ in rows) + " 2>/dev/null")
        got = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.strip()}
        bad = []
        for path, mode, user, group, _ in rows:
            if path not in got:
                continue
            m, u, g = got[path]
            if int(m, 8) & ~int(mode, 8) or (u, g) != (user, group):
                bad.append(f"{path} {m} {u}:{g} (want {mode} {user}:{group} or stricter)")
        return (not bad, "; ".join(bad) if bad else f"{len(got)} paths ok")
    return check


def file_03(ctx: CheckCtx) -> Outcome:
    return _empty_list("find / -xdev -type f -perm -0002 ! -path '/proc/*' ! -path '/sys/*' 2>/dev/null | head -50",
                       "world-writable files")(ctx)


def file_04(ctx: CheckCtx) -> Outcome:
    found = ctx.out("find / -xdev -type f -perm /6000 2>/dev/null").split()
    unexpected = sorted(f for f in found if f not in r.SUID_ALLOW)
    return (not unexpected, f"SUID/SGID not on the allow-list: {', '.join(unexpected)}" if unexpected
            else f"{len(found)} SUID/SGID files, all on the allow-list")


CHECKS: dict[str, Callable[[CheckCtx], Outcome]] = {
    "SSH-01": _sshd("SSH-01"), "SSH-02": _sshd("SSH-02"), "SSH-03": _sshd("SSH-03"),
    "SSH-04": _sshd("SSH-04"), "SSH-05": _sshd("SSH-05"), "SSH-06": _sshd("SSH-06"),
    "SSH-07": _sshd("SSH-07"), "SSH-08": ssh_08, "SSH-09": _sshd("SSH-09"), "SSH-10": ssh_10,
    "SSH-11": _sshd("SSH-11"),
    "ACC-01": acc_01, "ACC-02": acc_02,
    "ACC-03": _empty_list("awk -F: '($2==\"\"){print $1}' /etc/shadow", "accounts with an empty password"),
    "ACC-04": _empty_list("cut -d: -f3 /etc/passwd | sort | uniq -d", "duplicate UIDs"),
    "ACC-05": acc_05, "ACC-06": acc_06, "ACC-07": acc_07,
    "PAM-01": pam_01, "PAM-02": pam_02, "PAM-03": pam_03, "PAM-04": pam_04,
    "SYS-01": _sysctl_check("SYS-01"), "SYS-02": _sysctl_check("SYS-02"),
    "SYS-03": _sysctl_check("SYS-03"), "SYS-04": _sysctl_check("SYS-04"),
    "SYS-05": _sysctl_check("SYS-05"), "SYS-06": _sysctl_check("SYS-06"),
    "SYS-07": _sysctl_check("SYS-07"), "SYS-08": sys_08,
    "SYS-09": _modules("SYS-09", r.FS_MODULES + r.STORAGE_MODULES), "SYS-10": _modules("SYS-10", r.NET_MODULES),
    "FW-01": fw_01, "FW-02": fw_02, "FW-03": fw_03, "FW-04": fw_04,
    "LOG-01": log_01, "LOG-02": log_02, "LOG-03": log_03,
    "LOG-04": _empty_list(r"find /var/log -type f \( -perm /o+rwx -o -perm /g+wx \)", "loose log files"),
    "AUD-01": aud_01, "AUD-02": aud_02, "AUD-03": aud_03, "TIME-01": time_01, "IPS-01": ips_01,
    "PKG-01": pkg_01, "PKG-02": pkg_02, "PKG-03": pkg_03,
    "FILE-01": _modes("FILE-01"), "FILE-02": _modes("FILE-02"), "FILE-03": file_03, "FILE-04": file_04,
    "FILE-05": _empty_list("awk -F: '($3>=1000 && $3<65534 && $6 ~ /^\\/home\\//){print $6}' /etc/passwd | "
                           "while read -r d; do [ -d \"$d\" ] && find \"$d\" -maxdepth 0 -perm /027 -print; done",
                           "home directories open to group/others"),
}
