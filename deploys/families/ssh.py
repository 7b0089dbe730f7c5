"""SSH family (SSH-01..SSH-11): what Simpul puts on a server, and the deploy that does it.

The whole ``sshd_config`` (no Include), validated with ``sshd -t`` and applied through the
lock-out guard, and the bilingual legal banner.

The read-only checks of these controls: :mod:`simpul.deploys.checks.ssh`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyinfra.api.deploy import deploy

from simpul.deploys.families.base import HEADER, HardenContext, gate, name
from simpul.deploys.hostvars import SSH_GROUP, HostVars
from simpul.deploys.ops import GUARD, GuardedFile, file_mode, guarded_files, managed_file

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


@deploy("SSH")
def ssh_server(ctx: HardenContext) -> None:
    if ctx.on("SSH-08"):
        text = banner(ctx.hv)
        managed_file(name=name(["SSH-08"], "Legal banner /etc/issue.net"), path="/etc/issue.net",
                     content=text)
        managed_file(name=name(["SSH-08"], "Legal banner /etc/issue"), path="/etc/issue", content=text)
    if ctx.on("SSH-10"):
        for k in ctx.facts.host_keys:
            file_mode(name=name(["SSH-10"], f"Host key {k} 0600"), path=k, mode="600")
    ids = ctx.on("SSH-01", "SSH-02", "SSH-03", "SSH-04", "SSH-05", "SSH-06", "SSH-07", "SSH-08",
                 "SSH-09", "SSH-10", "SSH-11")
    if not ids or not gate(ctx, "sshd"):
        return
    content = sshd_config(ctx.hv, ctx.facts.host_keys, extra=ctx.sshd_extra,
                            waived=ctx.waived_or_na())
    guarded_files(name=name(ids, "sshd_config (sshd -t, reload, fresh login or auto-revert)"),
                  unit="sshd", files=[GuardedFile("/etc/ssh/sshd_config", content, mode="600")],
                  validate="/usr/sbin/sshd -t -f {}", activate=f"{GUARD} svc ssh reload",
                  confirm=ctx.confirm, timeout=ctx.guard_timeout)
