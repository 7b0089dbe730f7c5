"""The lab's state directory: generated secrets, host keys, configs, pidfiles, published files.

``SIMPUL_LAB_DIR`` (default ``/var/lib/simpul/lab``) holds everything the lab writes, so the
host's own ``/etc`` and ``/var/lib`` stay untouched (the exceptions are listed in docs/lab.md).
Secrets and host keys are generated once and kept across ``down``/``up``; the files named in
``inventory/lab/organisation.yaml`` (``secrets:``) are exactly the ones written here.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from simpul import labinfo

from .netns import LabError

log = logging.getLogger(__name__)


SECRET_FILES = ("router-password", "snmp-community", "snmp-auth", "snmp-priv", "restic-password",
                "drc-cluster")
"""Random-token secrets; the deploy key ``id_ed25519`` (+ ``.pub``) is made by ssh-keygen."""


def lab_dir() -> Path:
    """``$SIMPUL_LAB_DIR`` or ``/var/lib/simpul/lab`` (defined once, in the core)."""
    return labinfo.lab_dir()


@dataclass(frozen=True)
class LabState:
    """Paths under the lab state directory ``root``."""

    root: Path

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def deploy_key(self) -> Path:
        return self.secrets / "id_ed25519"

    @property
    def hostkeys(self) -> Path:
        return self.root / "hostkeys"

    def hostkey_dir(self, name: str) -> Path:
        return self.hostkeys / name

    @property
    def routers(self) -> Path:
        return self.root / "routers"

    def router_dir(self, name: str) -> Path:
        return self.routers / name

    @property
    def servers(self) -> Path:
        """State dir handed to ``lab.servers`` (overlays, pidfiles of the servers)."""
        return self.root / "servers"

    @property
    def noc(self) -> Path:
        return self.root / "noc"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def control_dir(self) -> Path:
        return self.root / "cm"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def marks(self) -> Path:
        """Records of host changes ``up`` made (so ``down`` undoes exactly those)."""
        return self.root / "marks"

    @property
    def links_file(self) -> Path:
        return self.root / "links.json"

    def secret(self, name: str) -> str:
        """Read a generated secret (``router-password``, ``snmp-auth``, ...)."""
        try:
            return (self.secrets / name).read_text().strip()
        except OSError as e:
            raise LabError(f"lab secret {self.secrets / name} is missing",
                           hint="run 'simpul lab up'") from e

    def mark(self, name: str) -> Path:
        return self.marks / name


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def ensure_dirs(st: LabState) -> None:
    """Create the state layout; the root must be reachable by other users (FRR runs as frr)."""
    for parent in [st.root.resolve(), *st.root.resolve().parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise LabError(f"lab state dir {st.root}: {parent} is not searchable by other users "
                           "(FRR's daemons run as user frr and read their config there)",
                           hint=f"chmod o+x {parent}, or set SIMPUL_LAB_DIR elsewhere")
    for d in (st.root, st.hostkeys, st.routers, st.servers, st.noc, st.images, st.bin,
              st.marks):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    st.secrets.mkdir(mode=0o700, exist_ok=True)
    st.secrets.chmod(0o700)
    st.control_dir.mkdir(mode=0o700, exist_ok=True)


def ensure_secrets(st: LabState) -> None:
    """Generate the lab secrets once (mode 0600); existing ones are kept."""
    ensure_dirs(st)
    for name in SECRET_FILES:
        p = st.secrets / name
        if not p.exists():
            # hex tokens: safe inside snmpd.conf, chpasswd input and shell words
            _write_secret(p, secrets.token_hex(16))
            log.info("lab: generated secret %s", p)
        p.chmod(0o600)
    # the deploy key, and the key the lab Dinas signs its evidence packs with
    for key, comment in ((st.deploy_key, "simpul-lab-deploy"),
                         (st.secrets / "evidence-signing-key", "simpul-lab-evidence")):
        if not key.exists():
            cp = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                                 "-f", str(key)], capture_output=True, text=True, check=False)
            if cp.returncode != 0:
                raise LabError(f"ssh-keygen for {key.name} failed: {cp.stderr.strip()}")
            log.info("lab: generated %s", key)
        key.chmod(0o600)
        key.with_suffix(".pub").chmod(0o644)


def ensure_host_key(st: LabState, name: str) -> str:
    """Create (once) the ed25519 host key of lab host ``name``; return the public key line."""
    d = st.hostkey_dir(name)
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)
    key = d / "ssh_host_ed25519_key"
    if not key.exists():
        cp = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{name}",
                             "-f", str(key)], capture_output=True, text=True, check=False)
        if cp.returncode != 0:
            raise LabError(f"{name}: ssh-keygen for the host key failed: {cp.stderr.strip()}")
    key.chmod(0o600)
    pub = key.with_name(key.name + ".pub")
    return " ".join(pub.read_text().split()[:2])


def write_ssh_client_files(st: LabState, hosts: dict[str, tuple[str, str, str]]) -> None:
    """Publish ``ssh_config`` and ``known_hosts`` for ``hosts`` (name -> (ip, user, keys)).

    ``keys`` holds one public host key per line (``ssh-ed25519 AAAA...``).

    The config names every host explicitly (no ``Host *``), so it can be ``Include``-d from
    ``~/.ssh/config`` without changing how the user reaches anything else.
    """
    names = sorted(hosts)
    lines = [
        "# Generated by 'simpul lab up' — the built-in lab's hosts by inventory name.",
        f"# Use: ssh -F {st.ssh_config} core-1",
        "",
    ]
    for n in names:
        ip, user, _ = hosts[n]
        lines += [f"Host {n}", f"    HostName {ip}", f"    User {user}", ""]
    lines += [
        "Host " + " ".join(names),
        f"    IdentityFile {st.deploy_key}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {st.known_hosts}",
        "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking yes",
        "    ControlMaster auto",
        f"    ControlPath {st.control_dir}/%n",
        "    ControlPersist 30s",
        "    ServerAliveInterval 5",
        "    ServerAliveCountMax 2",
        "    ConnectTimeout 5",
        "",
    ]
    tmp = st.ssh_config.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    tmp.chmod(0o644)
    os.replace(tmp, st.ssh_config)
    kh = [f"{n},{hosts[n][0]} {key}" for n in names for key in hosts[n][2].splitlines()]
    tmp = st.known_hosts.with_suffix(".tmp")
    tmp.write_text("\n".join(kh) + "\n")
    tmp.chmod(0o644)
    os.replace(tmp, st.known_hosts)
