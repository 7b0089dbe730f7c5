"""File permissions family (FILE-01..FILE-05): what Simpul puts on a server, and the deploy that does it.

Modes of the account databases and cron, no world-writable files, home directories 0750,
SUID/SGID bits only on the allow-list.

The read-only checks of these controls: :mod:`simpul.deploys.checks.files`.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HardenContext, name
from simpul.deploys.ops import ensure, file_mode

# FILE-04: SUID/SGID bits removed from these (not needed on a server) and allowed on these.
# MariaDB's auth_pam_tool is set-uid root only for the PAM authentication plugin, which Debian's
# MariaDB does not enable (root logs in by unix_socket); a server that really uses PAM
# authentication for MariaDB records a waiver of FILE-04.
SUID_DENY = ("/usr/lib/openssh/ssh-keysign", "/usr/bin/chfn", "/usr/bin/chsh", "/usr/bin/mtr",
             "/usr/bin/arping", "/usr/sbin/pppd", "/usr/bin/at", "/usr/bin/bsd-write",
             "/usr/lib/eject/dmcrypt-get-device", "/usr/bin/rcp", "/usr/bin/rlogin", "/usr/bin/rsh",
             "/usr/lib/mysql/plugin/auth_pam_tool_dir/auth_pam_tool")
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


@deploy("File permissions")
def file_permissions(ctx: HardenContext) -> None:
    for path, mode, user, group, cid in FILE_MODES:
        if ctx.on(cid):
            file_mode(name=name([cid], f"{path} {mode} {user}:{group}"), path=path, mode=mode,
                      user=user, group=group)
    if ctx.on("FILE-03"):
        ww = "find / -xdev -type f -perm -0002 ! -path '/proc/*' ! -path '/sys/*' 2>/dev/null"
        ensure(name=name(["FILE-03"], "Remove world-write from files"),
               check=f"{ww} | head -50 | grep . && exit 1 || exit 0",
               fix=f"{ww} -exec chmod o-w {{}} +")
    if ctx.on("FILE-05"):
        loose = ("awk -F: '($3>=1000 && $3<65534 && $6 ~ /^\\/home\\//){print $6}' /etc/passwd | "
                 "while read -r d; do [ -d \"$d\" ] && find \"$d\" -maxdepth 0 -perm /027 -print; done")
        ensure(name=name(["FILE-05"], "Home directories 0750 or stricter"),
               check=f"({loose}) | grep . && exit 1 || exit 0",
               fix=f"for d in $({loose}); do chmod g-w,o-rwx \"$d\"; done")
    if ctx.on("FILE-04"):
        deny = " ".join(SUID_DENY)
        found = f"for f in {deny}; do [ -u $f ] || [ -g $f ] && echo $f; done; true"
        ensure(name=name(["FILE-04"], "Drop SUID/SGID from binaries a server does not need"),
               check=f"({found}) | grep . && exit 1 || exit 0",
               fix=f"for f in $({found}); do chmod u-s,g-s $f; done")
