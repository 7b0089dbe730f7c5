"""Kernel family (SYS-01..SYS-10): what Simpul puts on a server, and the deploy that does it.

sysctl settings (live and persisted, loaded at every boot), no core dumps, unused
filesystems, storage drivers and protocols disabled.

The read-only checks of these controls: :mod:`simpul.deploys.checks.kernel`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, name
from simpul.deploys.hostvars import HostVars
from simpul.deploys.ops import managed_file, start_at_boot, sysctl_live


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


@deploy("Kernel")
def kernel_params(ctx: HardenContext) -> None:
    active = ctx.on("SYS-01", "SYS-02", "SYS-03", "SYS-04", "SYS-05", "SYS-06", "SYS-07", "SYS-08")
    values = sysctls(ctx.hv, active)
    if values:
        managed_file(name=name(active, "sysctl settings file"), path="/etc/sysctl.d/60-simpul.conf",
                     content=sysctl_conf(values))
        for key, (value, cid) in values.items():
            if is_live_key(key) or not ctx.facts.confined:
                sysctl_live(name=name([cid], f"Set {key}={value}"), key=key, value=value)
        # the file is read at every boot by procps (sysvinit) or systemd-sysctl (static)
        start_at_boot(name=name(active, "Load the sysctl settings at boot"), service="procps",
                      systemd_unit="systemd-sysctl")
    if ctx.on("SYS-08"):
        managed_file(name=name(["SYS-08"], "No core dumps (limits)"),
                     path="/etc/security/limits.d/60-simpul.conf", content=CORE_LIMITS)
        if ctx.facts.init == "systemd":
            managed_file(name=name(["SYS-08"], "No core dumps (systemd-coredump)"),
                         path="/etc/systemd/coredump.conf.d/60-simpul.conf", content=COREDUMP_CONF)
    mods = ctx.on("SYS-09", "SYS-10")
    if mods:
        managed_file(name=name(mods, "Disable unused filesystems, storage drivers and protocols"),
                     path="/etc/modprobe.d/60-simpul.conf", content=modprobe_conf(mods))
