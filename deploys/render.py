"""Pure renderers: the exact files Simpul puts on a server, from :class:`HostVars`.

No I/O here, so every rendered file has a golden-ish unit test and ``plan`` can show a diff
against what is on the host. Each file names the controls it implements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from simpul.deploys.hostvars import SSH_GROUP, HostVars

HEADER = "# Managed by Simpul (simpul harden apply). Local edits are reported as drift and reverted.\n"

# --- SSH (SSH-01..SSH-11) -------------------------------------------------------------------
# paramiko 4 (pyinfra, fabric, testinfra paramiko://) cannot negotiate chacha20-only or the RFC
# name curve25519-sha256 alone: keep curve25519-sha256@libssh.org, AES-GCM/CTR and the SHA-2 ETM
# MACs in every list, or the NOC's own tooling is locked out (LAB-FACTS "Servers").
SSH_KEX = ("sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org",
           "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512")
SSH_CIPHERS = ("chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
               "aes256-ctr", "aes192-ctr", "aes128-ctr")
SSH_MACS = ("hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com",
            "umac-128-etm@openssh.com")
# What a client must never be able to negotiate (checked from outside, SSH-06).
WEAK_KEX = ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1",
            "diffie-hellman-group-exchange-sha1")
WEAK_CIPHERS = ("aes128-cbc", "aes256-cbc", "3des-cbc")
WEAK_MACS = ("hmac-sha1", "hmac-md5", "hmac-sha2-256", "hmac-sha2-512")

# Expected effective values (lower-case, as `sshd -T` prints them), per control.
SSHD_EXPECT: dict[str, dict[str, str]] = {
    "SSH-01": {"permitrootlogin": "no"},
    "SSH-02": {"passwordauthentication": "no", "kbdinteractiveauthentication": "no",
               "permitemptypasswords": "no", "hostbasedauthentication": "no",
               "authenticationmethods": "publickey"},
    "SSH-03": {"maxauthtries": "3"},
    "SSH-04": {"clientaliveinterval": "300", "clientalivecountmax": "2", "logingracetime": "60"},
    "SSH-05": {"allowtcpforwarding": "no", "allowagentforwarding": "no", "x11forwarding": "no",
               "permittunnel": "no", "gatewayports": "no", "allowstreamlocalforwarding": "no",
               "permituserenvironment": "no", "disableforwarding": "yes"},
    "SSH-06": {"kexalgorithms": ",".join(SSH_KEX), "ciphers": ",".join(SSH_CIPHERS),
               "macs": ",".join(SSH_MACS)},
    "SSH-07": {"allowgroups": SSH_GROUP},
    "SSH-08": {"banner": "/etc/issue.net"},
    "SSH-09": {"loglevel": "VERBOSE"},
    "SSH-11": {"maxsessions": "4", "maxstartups": "10:30:60"},
}


def sshd_config(hv: HostVars, host_keys: Iterable[str], *, strict: bool | None = None,
                extra: Mapping[str, str] | None = None, waived: Iterable[str] = ()) -> str:
    """The whole ``/etc/ssh/sshd_config`` (no Include: a stray drop-in cannot weaken it).

    ``waived`` control IDs are left at the OpenSSH default; ``extra`` adds options verbatim
    (tests use it to prove the lock-out guard).
    """
    strict = hv.profile == "strict" if strict is None else strict
    off = set(waived)
    lines = [HEADER.rstrip("\n"),
             "# Controls SSH-01..SSH-11, see docs/hardening.md. Validated with `sshd -t -f` before",
             "# activation; a fresh login is tried after reload and the old file comes back if it fails.",
             f"Port {hv.ssh_port}"]
    lines += [f"HostKey {k}" for k in host_keys]
    lines += ["SyslogFacility AUTH", "UsePAM yes", "PubkeyAuthentication yes", "IgnoreRhosts yes",
              "PrintMotd no", "AcceptEnv LANG LC_*", "Subsystem sftp internal-sftp"]
    blocks: list[tuple[str, list[str]]] = [
        ("SSH-01", ["PermitRootLogin no"]),
        ("SSH-02", ["PasswordAuthentication no", "KbdInteractiveAuthentication no",
                    "PermitEmptyPasswords no", "HostbasedAuthentication no",
                    "AuthenticationMethods publickey"]),
        ("SSH-03", ["MaxAuthTries 3"]),
        ("SSH-04", ["ClientAliveInterval 300", "ClientAliveCountMax 2", "LoginGraceTime 60"]),
        ("SSH-05", ["DisableForwarding yes", "AllowTcpForwarding no", "AllowAgentForwarding no",
                    "X11Forwarding no", "PermitTunnel no", "GatewayPorts no",
                    "AllowStreamLocalForwarding no", "PermitUserEnvironment no", "Compression no",
                    "TCPKeepAlive no"]),
        ("SSH-06", [f"KexAlgorithms {','.join(SSH_KEX)}", f"Ciphers {','.join(SSH_CIPHERS)}",
                    f"MACs {','.join(SSH_MACS)}"]),
        ("SSH-07", [f"AllowGroups {SSH_GROUP}"]),
        ("SSH-08", ["Banner /etc/issue.net"]),
        ("SSH-09", ["LogLevel VERBOSE"]),
    ]
    blocks.append(("SSH-11", ["MaxSessions 4", "MaxStartups 10:30:60"]))
    for cid, opts in blocks:
        if cid in off:
            lines.append(f"# {cid}: waived for this host, OpenSSH default applies")
            continue
        lines.append(f"# {cid}")
        lines += opts
    for k, v in (extra or {}).items():
        lines.append(f"{k} {v}")
    return "\n".join(lines) + "\n"


def banner(hv: HostVars) -> str:
    """Legal warning banner (SSH-08), Bahasa Indonesia first, then English."""
    org = str(hv.organisation)
    return (
        "PERINGATAN: Sistem ini milik " + org + ".\n"
        "Akses hanya untuk pengguna yang berwenang (authorized). Seluruh aktivitas dicatat dan\n"
        "dipantau (monitored). Akses tanpa izin atau penyalahgunaan akan ditindak sesuai hukum\n"
        "(legal action), termasuk UU No. 11 Tahun 2008 tentang ITE beserta perubahannya.\n"
        "\n"
        "WARNING: This system belongs to " + org + ".\n"
        "Access is for authorized users only. All activity is logged and monitored.\n"
        "Unauthorized access or misuse will be prosecuted under the law.\n"
    )


# --- firewall (FW-01..FW-04) --------------------------------------------------------------------

NFT_FILE = "/etc/nftables.d/simpul.nft"


def nft_ruleset(hv: HostVars) -> str:
    """Simpul's own table ``inet simpul``: default-drop inbound, the inventory's services open,
    management services only from ``noc_ranges``. Loaded with ``nft -f`` as one transaction; it
    replaces only this table and never flushes the ruleset (fail2ban keeps its own table)."""
    noc = ", ".join(str(n) for n in hv.noc_ranges)
    rules: list[str] = []
    for p in sorted(hv.ports, key=lambda p: (not p.management, p.port, p.proto)):
        who = "ip saddr @noc_v4 " if p.management else \
            f"ip saddr {{ {', '.join(p.sources)} }} " if p.sources else ""
        tag = "FW-03" if p.management else "FW-02"
        rules.append(f'{who}{p.proto} dport {p.port} accept comment "{p.service} | {tag}"')
    fwd_policy = "accept" if hv.ip_forward else "drop"
    body = "\n".join(f"\t\t{r}" for r in rules)
    return (
        f"{HEADER}"
        "# FW-01..FW-04. Applied by simpul-guard with a timed auto-revert unless a fresh SSH login\n"
        "# confirms it; established sessions (the management session) are always kept.\n"
        "table inet simpul {}\n"
        "delete table inet simpul\n"
        "table inet simpul {\n"
        "\tset noc_v4 {\n"
        "\t\ttype ipv4_addr\n"
        "\t\tflags interval\n"
        f"\t\telements = {{ {noc} }}\n"
        "\t}\n"
        "\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy drop;\n"
        "\t\tct state established,related accept\n"
        "\t\tct state invalid drop\n"
        '\t\tiif "lo" accept\n'
        "\t\tip protocol icmp icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } limit rate 20/second accept\n"
        "\t\tmeta l4proto ipv6-icmp accept\n"
        f"{body}\n"
        '\t\tlimit rate 5/minute log prefix "simpul-drop: " level info\n'
        "\t}\n"
        "\n"
        "\tchain forward {\n"
        f"\t\ttype filter hook forward priority filter; policy {fwd_policy};\n"
        "\t}\n"
        "}\n"
    )


# --- kernel (SYS-01..SYS-10) ------------------------------------------------------------------

def sysctls(hv: HostVars, active: Iterable[str]) -> dict[str, tuple[str, str]]:
    """key → (value, control ID) for the active controls. net.* are per network namespace and
    enforced live everywhere; kernel.*/fs.* (SYS-07, SYS-08) are kernel-global."""
    on = set(active)
    table: list[tuple[str, list[tuple[str, str]]]] = [
        ("SYS-01", [("net.ipv4.conf.all.rp_filter", "1"), ("net.ipv4.conf.default.rp_filter", "1")]),
        ("SYS-02", [("net.ipv4.conf.all.accept_redirects", "0"), ("net.ipv4.conf.default.accept_redirects", "0"),
                    ("net.ipv6.conf.all.accept_redirects", "0"), ("net.ipv6.conf.default.accept_redirects", "0"),
                    ("net.ipv4.conf.all.secure_redirects", "0"), ("net.ipv4.conf.default.secure_redirects", "0"),
                    ("net.ipv4.conf.all.send_redirects", "0"), ("net.ipv4.conf.default.send_redirects", "0")]),
        ("SYS-03", [("net.ipv4.conf.all.accept_source_route", "0"), ("net.ipv4.conf.default.accept_source_route", "0"),
                    ("net.ipv6.conf.all.accept_source_route", "0"), ("net.ipv6.conf.default.accept_source_route", "0")]),
        ("SYS-04", [("net.ipv4.tcp_syncookies", "1")]),
        ("SYS-05", [("net.ipv4.conf.all.log_martians", "1"), ("net.ipv4.conf.default.log_martians", "1"),
                    ("net.ipv4.icmp_echo_ignore_broadcasts", "1"), ("net.ipv4.icmp_ignore_bogus_error_responses", "1")]),
        ("SYS-06", [("net.ipv4.ip_forward", "0"), ("net.ipv6.conf.all.forwarding", "0")]),
        ("SYS-07", [("kernel.randomize_va_space", "2"), ("kernel.kptr_restrict", "2"),
                    ("kernel.dmesg_restrict", "1"), ("kernel.yama.ptrace_scope", "1"),
                    ("kernel.sysrq", "0"), ("kernel.unprivileged_bpf_disabled", "1"),
                    ("kernel.perf_event_paranoid", "3"), ("kernel.core_uses_pid", "1"),
                    ("fs.protected_hardlinks", "1"), ("fs.protected_symlinks", "1"),
                    ("fs.protected_fifos", "2"), ("fs.protected_regular", "2"),
                    ("net.core.bpf_jit_harden", "2")]),
        ("SYS-08", [("fs.suid_dumpable", "0")]),
    ]
    out: dict[str, tuple[str, str]] = {}
    for cid, kvs in table:
        if cid in on:
            for k, v in kvs:
                out[k] = (v, cid)
    return out


# Per-network-namespace keys: enforced live even inside a namespace. Everything else is global.
GLOBAL_NET_KEYS = frozenset({"net.core.bpf_jit_harden"})


def is_live_key(key: str) -> bool:
    return key.startswith("net.") and key not in GLOBAL_NET_KEYS


def sysctl_conf(values: Mapping[str, tuple[str, str]]) -> str:
    out = [HEADER.rstrip("\n")]
    cur = ""
    for k, (v, cid) in values.items():
        if cid != cur:
            out.append(f"# {cid}")
            cur = cid
        out.append(f"{k} = {v}")
    return "\n".join(out) + "\n"


FS_MODULES = ("cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "udf")
NET_MODULES = ("dccp", "sctp", "rds", "tipc")
# Servers in the Pusat Data need no removable storage drivers (waive SYS-09 where a host does).
STORAGE_MODULES = ("usb-storage", "firewire-core", "firewire-ohci")


def modprobe_conf(active: Iterable[str], strict: bool = False) -> str:
    on = set(active)
    out = [HEADER.rstrip("\n")]
    groups = [("SYS-09", FS_MODULES + STORAGE_MODULES), ("SYS-10", NET_MODULES)]
    for cid, mods in groups:
        if cid not in on:
            continue
        out.append(f"# {cid}")
        for m in mods:
            out += [f"install {m} /bin/true", f"blacklist {m}"]
    return "\n".join(out) + "\n"


CORE_LIMITS = HEADER + "# SYS-08: no core dumps\n* hard core 0\n* soft core 0\n"
COREDUMP_CONF = HEADER + "# SYS-08 (systemd hosts)\n[Coredump]\nStorage=none\nProcessSizeMax=0\n"


# --- accounts and PAM (ACC-*, PAM-*) ------------------------------------------------------------

SUDOERS = (HEADER + "# ACC-02: every sudo command logged, run in its own pty\n"
           "Defaults use_pty\n"
           'Defaults logfile="/var/log/sudo.log"\n'
           "Defaults !visiblepw\n"
           "Defaults passwd_timeout=1\n"
           "Defaults timestamp_timeout=5\n")

PROFILE = (HEADER + "# ACC-06: default umask; SSH-04: idle interactive shells close after 15 min\n"
           "umask 027\n"
           "TMOUT=900\n"
           "readonly TMOUT\n"
           "export TMOUT\n")

PWQUALITY = (HEADER + "# PAM-01\nminlen = 14\nminclass = 4\ndcredit = -1\nucredit = -1\n"
             "lcredit = -1\nocredit = -1\nmaxrepeat = 3\ndictcheck = 1\nenforce_for_root\n")

FAILLOCK = (HEADER + "# PAM-02: 5 failures within 15 min lock the account for 15 min\n"
            "deny = 5\nfail_interval = 900\nunlock_time = 900\naudit\n")

PAM_COMMON_AUTH = (HEADER + "# PAM-02 (pam_faillock), ACC-03 (no nullok: empty passwords never authenticate)\n"
                   "auth\trequired\t\t\tpam_faillock.so preauth\n"
                   "auth\t[success=1 default=ignore]\tpam_unix.so\n"
                   "auth\t[default=die]\t\t\tpam_faillock.so authfail\n"
                   "auth\tsufficient\t\t\tpam_faillock.so authsucc\n"
                   "auth\trequisite\t\t\tpam_deny.so\n"
                   "auth\trequired\t\t\tpam_permit.so\n")

PAM_COMMON_ACCOUNT = (HEADER + "# PAM-02: pam_faillock resets the counter on success\n"
                      "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
                      "account\trequisite\t\t\tpam_deny.so\n"
                      "account\trequired\t\t\tpam_permit.so\n"
                      "account\trequired\t\t\tpam_faillock.so\n")

PAM_COMMON_PASSWORD = (HEADER + "# PAM-01 (pam_pwquality), PAM-04 (yescrypt), no reuse of the last 5\n"
                       "password\trequisite\t\t\tpam_pwquality.so retry=3\n"
                       "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt remember=5\n"
                       "password\trequisite\t\t\tpam_deny.so\n"
                       "password\trequired\t\t\tpam_permit.so\n")

LOGIN_DEFS = {"PASS_MAX_DAYS": "365", "PASS_MIN_DAYS": "1", "PASS_WARN_AGE": "7",  # PAM-03
              "UMASK": "027",  # ACC-06
              "ENCRYPT_METHOD": "YESCRYPT", "YESCRYPT_COST_FACTOR": "7",  # PAM-04
              "SHA_CRYPT_MIN_ROUNDS": "65536", "SHA_CRYPT_MAX_ROUNDS": "131072"}  # PAM-04 (if SHA512)
LOGIN_DEFS_CONTROL = {"PASS_MAX_DAYS": "PAM-03", "PASS_MIN_DAYS": "PAM-03", "PASS_WARN_AGE": "PAM-03",
                      "UMASK": "ACC-06", "ENCRYPT_METHOD": "PAM-04", "YESCRYPT_COST_FACTOR": "PAM-04",
                      "SHA_CRYPT_MIN_ROUNDS": "PAM-04", "SHA_CRYPT_MAX_ROUNDS": "PAM-04"}


def set_keys(text: str, values: Mapping[str, str], *, sep: str = "\t") -> str:
    """Set ``KEY<sep>value`` lines in a login.defs-style file; keeps everything else as is.

    The first active line of a key is replaced in place, later duplicates are commented out and
    missing keys are appended under a Simpul marker. Idempotent: applying twice changes nothing.
    """
    lines = text.splitlines()
    seen: set[str] = set()
    out: list[str] = []
    for line in lines:
        m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$", line)
        if m and not line.lstrip().startswith("#") and m.group(1) in values:
            key = m.group(1)
            if key in seen:
                out.append(f"# {line}  # duplicate, disabled by Simpul")
                continue
            seen.add(key)
            out.append(f"{key}{sep}{values[key]}")
        else:
            out.append(line)
    missing = [k for k in values if k not in seen]
    if missing:
        marker = "# Simpul (simpul harden apply)"
        if marker not in out:
            out.append(marker)
        out += [f"{k}{sep}{values[k]}" for k in missing]
    return "\n".join(out) + "\n"


# --- logging, audit, time, IPS --------------------------------------------------------------

def rsyslog_conf(hv: HostVars, active: Iterable[str]) -> str:
    on = set(active)
    out = [HEADER.rstrip("\n"), "# LOG-04: log files 0640, directories 0750",
           "$FileCreateMode 0640", "$DirCreateMode 0750", "$Umask 0027"]
    if "LOG-03" in on:
        out += ["# LOG-03: receive the servers' logs (TCP 514), one file per sending host",
                'module(load="imtcp")',
                'input(type="imtcp" port="514" ruleset="remote")',
                'template(name="SimpulRemote" type="string" string="/var/log/remote/%HOSTNAME%.log")',
                'ruleset(name="remote") {', '    action(type="omfile" dynaFile="SimpulRemote")', "}"]
    if "LOG-02" in on and hv.log_host_ip is not None:
        out += [f"# LOG-02: forward everything to the log host {hv.log_host} (TCP, disk-assisted queue)",
                f'*.* action(type="omfwd" target="{hv.log_host_ip}" port="514" protocol="tcp"',
                '         queue.type="LinkedList" queue.filename="simpul_fwd" queue.maxDiskSpace="256m"',
                '         queue.saveOnShutdown="on" action.resumeRetryCount="-1" action.resumeInterval="5")']
    return "\n".join(out) + "\n"


def audit_rules(strict: bool) -> str:
    """AUD-02: identity, privilege, sshd, time, logins, kernel modules, firewall."""
    rules = [
        HEADER.rstrip("\n"), "# AUD-02",
        "-w /etc/passwd -p wa -k identity", "-w /etc/group -p wa -k identity",
        "-w /etc/shadow -p wa -k identity", "-w /etc/gshadow -p wa -k identity",
        "-w /etc/security/opasswd -p wa -k identity",
        "-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers.d/ -p wa -k scope",
        "-w /var/log/sudo.log -p wa -k actions",
        "-w /etc/ssh/sshd_config -p wa -k sshd",
        "-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change",
        "-a always,exit -F arch=b32 -S adjtimex,settimeofday,clock_settime -k time-change",
        "-w /etc/localtime -p wa -k time-change",
        "-w /var/log/lastlog -p wa -k logins", "-w /var/run/faillock/ -p wa -k logins",
        "-w /sbin/insmod -p x -k modules", "-w /sbin/rmmod -p x -k modules",
        "-w /sbin/modprobe -p x -k modules",
        "-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k modules",
        "-w /etc/nftables.conf -p wa -k firewall", "-w /etc/nftables.d/ -p wa -k firewall",
    ]
    if strict:
        rules += ["# AUD-03 (strict): rules immutable until reboot", "-e 2"]
    return "\n".join(rules) + "\n"


def chrony_conf(hv: HostVars) -> str:
    servers = "\n".join(f"server {s} iburst" for s in hv.ntp_servers)
    return (f"{HEADER}# TIME-01: only the Dinas NTP servers (organisation.ntp_servers); no pools\n"
            f"{servers}\n"
            "driftfile /var/lib/chrony/chrony.drift\n"
            "keyfile /etc/chrony/chrony.keys\n"
            "ntsdumpdir /var/lib/chrony\n"
            "logdir /var/log/chrony\n"
            "makestep 1.0 3\n"
            "rtcsync\n"
            "leapsectz right/UTC\n")


def fail2ban_jail(hv: HostVars, init: str) -> str:
    """IPS-01. NOC ranges are never banned (a locked-out NOC cannot fix anything)."""
    ignore = " ".join(["127.0.0.1/8", "::1", *[str(n) for n in hv.noc_ranges]])
    backend = "systemd" if init == "systemd" else "polling"
    logpath = "" if init == "systemd" else "logpath = /var/log/auth.log\n"
    return (f"{HEADER}# IPS-01\n[DEFAULT]\nbanaction = nftables-multiport\n"
            "banaction_allports = nftables-allports\n"
            f"bantime = 1h\nfindtime = 10m\nmaxretry = 5\nignoreip = {ignore}\n\n"
            f"[sshd]\nenabled = true\nport = {hv.ssh_port}\nbackend = {backend}\n{logpath}")


AUTO_UPGRADES = (HEADER + "# PKG-02\n"
                 'APT::Periodic::Update-Package-Lists "1";\n'
                 'APT::Periodic::Unattended-Upgrade "1";\n'
                 'APT::Periodic::AutocleanInterval "7";\n')

# ACC-05: system accounts that keep their shell on purpose. Debian's PostgreSQL tooling and
# every DBA runbook use `su - postgres`; a nologin shell would break backups and DR drills.
SHELL_ACCOUNTS = ("root", "sync", "shutdown", "halt", "postgres")


def system_accounts_with_shell(deploy_user: str) -> str:
    """Shell snippet listing UID<1000 accounts with a login shell (except SHELL_ACCOUNTS)."""
    keep = " && ".join(f'$1!="{a}"' for a in (*SHELL_ACCOUNTS, deploy_user))
    return f"awk -F: '($3<1000 && {keep} && $7!~/(nologin|false)$/){{print $1}}' /etc/passwd"


LEGACY_PACKAGES = ("telnet", "inetutils-telnet", "telnetd", "rsh-client", "rsh-redone-client",
                   "rsh-server", "talk", "ntalk", "nis", "tftp", "tftp-hpa", "atftp", "xinetd",
                   "openbsd-inetd", "inetutils-inetd", "ftp", "inetutils-ftp")
REQUIRED_PACKAGES = ("openssh-server", "sudo", "nftables", "rsyslog", "auditd", "chrony",
                     "fail2ban", "libpam-pwquality", "unattended-upgrades")

# FILE-04: SUID/SGID bits removed from these (not needed on a server) and allowed on these.
SUID_DENY = ("/usr/lib/openssh/ssh-keysign", "/usr/bin/chfn", "/usr/bin/chsh", "/usr/bin/mtr",
             "/usr/bin/arping", "/usr/sbin/pppd", "/usr/bin/at", "/usr/bin/bsd-write",
             "/usr/lib/eject/dmcrypt-get-device", "/usr/bin/rcp", "/usr/bin/rlogin", "/usr/bin/rsh")
SUID_ALLOW = ("/usr/bin/sudo", "/usr/bin/su", "/usr/bin/passwd", "/usr/bin/gpasswd",
              "/usr/bin/newgrp", "/usr/bin/mount", "/usr/bin/umount", "/usr/bin/chage",
              "/usr/bin/expiry", "/usr/bin/crontab", "/usr/bin/wall", "/usr/bin/ssh-agent",
              "/usr/bin/dotlockfile", "/usr/bin/fusermount3", "/usr/bin/fusermount",
              "/usr/sbin/unix_chkpwd", "/usr/sbin/pam_extrausers_chkpwd",
              "/usr/lib/dbus-1.0/dbus-daemon-launch-helper", "/usr/libexec/polkit-agent-helper-1",
              "/usr/bin/pkexec", "/usr/sbin/postdrop", "/usr/sbin/postqueue", "/usr/bin/ping")

FILE_MODES: tuple[tuple[str, str, str, str, str], ...] = (
    # path, mode, user, group, control
    ("/etc/passwd", "644", "root", "root", "FILE-01"), ("/etc/group", "644", "root", "root", "FILE-01"),
    ("/etc/shadow", "640", "root", "shadow", "FILE-01"), ("/etc/gshadow", "640", "root", "shadow", "FILE-01"),
    ("/etc/passwd-", "644", "root", "root", "FILE-01"), ("/etc/group-", "644", "root", "root", "FILE-01"),
    ("/etc/shadow-", "640", "root", "shadow", "FILE-01"), ("/etc/gshadow-", "640", "root", "shadow", "FILE-01"),
    ("/etc/crontab", "600", "root", "root", "FILE-02"), ("/etc/cron.d", "700", "root", "root", "FILE-02"),
    ("/etc/cron.hourly", "700", "root", "root", "FILE-02"), ("/etc/cron.daily", "700", "root", "root", "FILE-02"),
    ("/etc/cron.weekly", "700", "root", "root", "FILE-02"), ("/etc/cron.monthly", "700", "root", "root", "FILE-02"),
)
