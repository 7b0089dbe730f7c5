"""Software family (PKG-01..PKG-03): what Simpul puts on a server, and the deploy that does it.

Security packages installed, legacy/insecure packages removed, unattended security upgrades
(Pergub Jambi 12/2022 Pasal 23(2)(b) angka 1, 23(2)(d)).

The read-only checks of these controls: :mod:`simpul.deploys.checks.software`.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, name
from simpul.deploys.ops import ensure, managed_file, start_at_boot

LEGACY_PACKAGES = ("telnet", "inetutils-telnet", "telnetd", "rsh-client", "rsh-redone-client",
                   "rsh-server", "talk", "ntalk", "nis", "tftp", "tftp-hpa", "atftp", "xinetd",
                   "openbsd-inetd", "inetutils-inetd", "ftp", "inetutils-ftp")
REQUIRED_PACKAGES = ("openssh-server", "sudo", "nftables", "rsyslog", "auditd", "chrony",
                     "fail2ban", "libpam-pwquality", "unattended-upgrades")

AUTO_UPGRADES = (HEADER + "# PKG-02\n"
                 'APT::Periodic::Update-Package-Lists "1";\n'
                 'APT::Periodic::Unattended-Upgrade "1";\n'
                 'APT::Periodic::AutocleanInterval "7";\n')


@deploy("Software")
def packages(ctx: HardenContext) -> None:
    needed = " ".join(REQUIRED_PACKAGES)
    ids = ctx.on("LOG-01", "AUD-01", "TIME-01", "IPS-01", "PAM-01", "PKG-02", "FW-01")
    if ids:
        ensure(name=name(ids, "Install the security packages"),
               check=f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {needed} 2>&1 | "
                     "grep -v ' install ok installed$' | grep . && exit 1 || exit 0",
               fix=f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {needed}",
               describe=f"apt-get install {needed} (missing ones)")
    if ctx.on("PKG-01"):
        legacy = " ".join(LEGACY_PACKAGES)
        installed = (f"dpkg-query -W -f='${{Package}} ${{Status}}\\n' {legacy} 2>/dev/null | "
                     "awk '/ installed$/{print $1}'")
        ensure(name=name(["PKG-01"], "Remove legacy/insecure packages"),
               check=f"{installed} | grep . && exit 1 || exit 0",
               fix=f"pkgs=$({installed}); [ -z \"$pkgs\" ] || "
                   "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $pkgs",
               describe="apt-get purge the installed legacy packages")
    if ctx.on("PKG-02"):
        managed_file(name=name(["PKG-02"], "Enable unattended security upgrades"),
                     path="/etc/apt/apt.conf.d/20auto-upgrades", content=AUTO_UPGRADES)
        # APT::Periodic runs from /etc/cron.daily/apt-compat without systemd, from a timer with it
        start_at_boot(name=name(["PKG-02"], "Periodic apt runs at boot (cron / apt-daily-upgrade.timer)"),
                      service="cron", systemd_unit="apt-daily-upgrade.timer")
