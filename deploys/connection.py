"""The SSH edge: targets from the inventory, pinned host keys, and the one place where paramiko
exceptions become Simpul errors carrying the host name.

Host keys are always pinned (``RejectPolicy`` / ``StrictHostKeyChecking=yes``): paramiko- and
fabric-based tools otherwise auto-add unknown keys (LAB-FACTS "Servers"). The known_hosts file
is, in order: the ``known_hosts`` argument, ``$SIMPUL_KNOWN_HOSTS``, ``<state_dir>/known_hosts``,
``<state_dir>/lab/known_hosts`` (written by ``simpul lab up``), ``~/.ssh/known_hosts``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import paramiko

from simpul.errors import AuthError, ConfigError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.netguard import ensure_on_machine
from simpul.secrets_ref import secret_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """How to reach one server over SSH."""

    name: str
    host: str
    port: int
    user: str
    key_file: Path
    known_hosts: Path
    become: bool = True
    timeout: float = 10.0


def known_hosts_path(state_dir: Path | None, explicit: Path | None = None) -> Path:
    candidates: list[Path] = []
    if explicit:
        return explicit
    if os.environ.get("SIMPUL_KNOWN_HOSTS"):
        return Path(os.environ["SIMPUL_KNOWN_HOSTS"])
    if state_dir:
        candidates += [state_dir / "known_hosts", state_dir / "lab" / "known_hosts"]
    candidates.append(Path.home() / ".ssh" / "known_hosts")
    for c in candidates:
        if c.exists():
            return c
    raise ConfigError("no known_hosts file found for pinning server host keys",
                      hint="set SIMPUL_KNOWN_HOSTS or create <state_dir>/known_hosts")


def target_for(inv: Inventory, name: str, known_hosts: Path) -> Target:
    s = inv.servers[name]
    return Target(name=name, host=str(s.mgmt_ip), port=s.ssh.port, user=s.ssh.user,
                  key_file=secret_path(inv, s.ssh.key), known_hosts=known_hosts,
                  become=s.ssh.become)


def load_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(str(path))
    except (paramiko.SSHException, OSError, ValueError) as e:
        raise ConfigError(f"SSH key {path}: cannot load ({e})") from e


def public_key_line(path: Path) -> str:
    """``ssh-ed25519 AAAA... simpul-deploy`` for the private key at ``path``."""
    key = load_key(path)
    return f"{key.get_name()} {key.get_base64()} simpul-deploy"



def check_route(t: Target) -> None:
    """Refuse a link-local target that the kernel would send through a gateway (see
    :mod:`simpul.netguard`): the lab network is down and the packets would leave this machine."""
    ensure_on_machine(t.name, t.host)


def connect(t: Target, *, user: str | None = None, disabled_algorithms: dict[str, list[str]] | None = None,
            timeout: float | None = None) -> paramiko.SSHClient:
    """A fresh, host-key-pinned SSH login with the deploy key. Raises Unreachable/AuthError."""
    check_route(t)
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(t.known_hosts))
    except OSError as e:
        raise ConfigError(f"known_hosts {t.known_hosts}: {e.strerror}") from e
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(t.host, port=t.port, username=user or t.user, key_filename=str(t.key_file),
                       timeout=timeout or t.timeout, banner_timeout=timeout or t.timeout,
                       auth_timeout=timeout or t.timeout, allow_agent=False, look_for_keys=False,
                       disabled_algorithms=disabled_algorithms)
    except paramiko.AuthenticationException as e:
        client.close()
        raise AuthError(t.name, f"authentication failed for {user or t.user} ({e})") from e
    except paramiko.BadHostKeyException as e:
        client.close()
        raise AuthError(t.name, "host key does not match known_hosts (possible impersonation)") from e
    except paramiko.SSHException as e:
        client.close()
        msg = str(e)
        if "not found in known_hosts" in msg:
            raise UnreachableError(t.name, f"host key not in {t.known_hosts}",
                                   hint="pin it first (ssh-keyscan, reviewed)") from e
        raise UnreachableError(t.name, f"SSH failed: {msg}") from e
    except (TimeoutError, OSError, EOFError) as e:
        client.close()
        raise UnreachableError(t.name, f"cannot connect to {t.host}:{t.port} ({e})") from e
    return client


def run(t: Target, command: str, *, sudo: bool = False, timeout: float = 60.0) -> tuple[int, str, str]:
    """Run one command over a fresh login; returns (exit status, stdout, stderr)."""
    client = connect(t)
    try:
        full = f"sudo -n -- sh -c {_q(command)}" if sudo else command
        try:
            _, out, err = client.exec_command(full, timeout=timeout)
            rc = out.channel.recv_exit_status()
            return rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        except (TimeoutError, paramiko.SSHException, OSError) as e:
            raise UnreachableError(t.name, f"command failed in transit ({e})") from e
    finally:
        client.close()


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def make_confirm(t: Target):  # type: ignore[no-untyped-def]
    """The guard's controller side: a fresh login + ``sudo -n simpul-guard confirm UNIT``."""

    def confirm(unit: str) -> None:
        rc, _, err = run(t, f"/usr/local/sbin/simpul-guard confirm {unit}", sudo=True, timeout=20)
        if rc != 0:
            raise AuthError(t.name, f"fresh login worked but sudo/confirm failed (exit {rc}): "
                                    f"{err.strip()[:200]}")
        log.info("%s: %s confirmed by a fresh login", t.name, unit)

    return confirm
