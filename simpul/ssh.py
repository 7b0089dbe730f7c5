"""The SSH edge, shared by every domain: targets from the inventory, pinned host keys, the
network guard, a preflight, and the one place where paramiko exceptions become Simpul errors
carrying the host name.

Host keys are always pinned (``RejectPolicy`` / ``StrictHostKeyChecking=yes``): paramiko-,
fabric- and netmiko-based tools otherwise auto-add unknown keys (LAB-FACTS "Servers"; netmiko's
``ssh_strict`` defaults to off). The known_hosts file is, in order: the ``explicit`` argument,
``$SIMPUL_KNOWN_HOSTS``, ``<state_dir>/known_hosts``, ``<state_dir>/lab/known_hosts`` (written
by ``simpul lab up``), ``~/.ssh/known_hosts``.

Example::

    t = server_target(inv, "pd-db", known_hosts_path(settings.state_dir))
    facts = preflight(t)            # reachable, key accepted, sudo -n works
    rc, out, err = run(t, "uptime")
"""

from __future__ import annotations

import atexit
import logging
import os
import shlex
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from simpul.errors import AuthError, ConfigError, SimpulError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.labinfo import lab_dir
from simpul.netguard import ensure_on_machine
from simpul.secrets_ref import resolve_secret, secret_path

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
    """The known_hosts file that pins host keys (see the module docstring for the order)."""
    if explicit:
        return explicit
    if os.environ.get("SIMPUL_KNOWN_HOSTS"):
        return Path(os.environ["SIMPUL_KNOWN_HOSTS"])
    candidates: list[Path] = []
    if state_dir:
        candidates += [state_dir / "known_hosts", state_dir / "lab" / "known_hosts"]
    candidates += [lab_dir() / "known_hosts", Path.home() / ".ssh" / "known_hosts"]
    for c in candidates:
        if c.exists():
            return c
    raise ConfigError("no known_hosts file found for pinning host keys",
                      hint="set SIMPUL_KNOWN_HOSTS or create <state_dir>/known_hosts "
                           "(for the built-in lab: simpul lab up writes one)")


def server_target(inv: Inventory, name: str, known_hosts: Path) -> Target:
    """The SSH target of inventory server ``name`` (its deploy key is a file secret)."""
    if name not in inv.servers:
        raise ConfigError(f"{name}: not a server in the inventory ({inv.source or 'inventory'})")
    s = inv.servers[name]
    return Target(name=name, host=str(s.mgmt_ip), port=s.ssh.port, user=s.ssh.user,
                  key_file=secret_path(inv, s.ssh.key), known_hosts=known_hosts,
                  become=s.ssh.become)


# --- pinned host keys, parsed once per process ----------------------------------------------
# paramiko's load_host_keys parses the whole known_hosts file (a key object per line) and its
# lookup scans every entry (an HMAC per hashed entry): per login that is O(hosts), per push of
# every router O(hosts²) — ~10 ms of CPU per login at 50 routers. The file is parsed once per
# process (again when it changes); a login gets only its host's keys.

_KH_LOCK = threading.Lock()
_KH_FILES: dict[tuple[str, int, int, int], paramiko.HostKeys] = {}
_KH_HOSTS: dict[tuple[str, int, int, int, str], dict[str, paramiko.PKey]] = {}
_KH_PINNED: dict[tuple[str, int, int, int, str], str] = {}
_KH_DIR: list[str] = []


def _host_name(host: str, port: int) -> str:
    """The name a known_hosts line gives ``host:port`` (OpenSSH: ``[host]:port`` off port 22)."""
    return host if port == 22 else f"[{host}]:{port}"


def _pinned_keys(known_hosts: Path, host: str, port: int
                 ) -> tuple[str, dict[str, paramiko.PKey], tuple[str, int, int, int, str]]:
    try:
        st = os.stat(known_hosts)
    except OSError as e:
        raise ConfigError(f"known_hosts {known_hosts}: {e.strerror}") from e
    name = _host_name(host, port)
    fkey = (str(known_hosts), st.st_ino, st.st_mtime_ns, st.st_size)
    with _KH_LOCK:
        if (*fkey, name) not in _KH_HOSTS:
            if fkey not in _KH_FILES:
                hk = paramiko.HostKeys()
                try:
                    hk.load(str(known_hosts))
                except OSError as e:
                    raise ConfigError(f"known_hosts {known_hosts}: {e.strerror}") from e
                _KH_FILES.clear()  # an older version of this file is of no use any more
                _KH_FILES[fkey] = hk
            found = _KH_FILES[fkey].lookup(name)
            _KH_HOSTS[(*fkey, name)] = dict(found) if found else {}
        return name, _KH_HOSTS[(*fkey, name)], (*fkey, name)


def pin_host_keys(client: paramiko.SSHClient, known_hosts: Path, host: str, port: int = 22) -> None:
    """Give ``client`` the keys ``known_hosts`` pins for ``host:port`` (and reject the rest:
    the caller sets ``RejectPolicy``). Same verdicts as ``client.load_host_keys(known_hosts)``."""
    name, keys, _ = _pinned_keys(known_hosts, host, port)
    for ktype, key in keys.items():
        client.get_host_keys().add(name, ktype, key)


def pinned_known_hosts_file(known_hosts: Path, host: str, port: int = 22) -> str:
    """A private known_hosts file holding only ``host:port``'s pinned keys (for libraries that
    take a path, such as netmiko's ``alt_key_file``); written once per process and key set."""
    name, keys, k = _pinned_keys(known_hosts, host, port)
    with _KH_LOCK:
        if k not in _KH_PINNED or not os.path.exists(_KH_PINNED[k]):  # (a tmp cleaner took it)
            if not _KH_DIR or not os.path.isdir(_KH_DIR[0]):
                _KH_DIR.clear()
                d = tempfile.mkdtemp(prefix="simpul-known-hosts-")
                atexit.register(shutil.rmtree, d, True)
                _KH_DIR.append(d)
            hk = paramiko.HostKeys()
            for ktype, key in keys.items():
                hk.add(name, ktype, key)
            path = os.path.join(_KH_DIR[0], f"{len(_KH_PINNED)}-{name.strip('[]').replace(']:', '-')}")
            hk.save(path)
            _KH_PINNED[k] = path
        return _KH_PINNED[k]


def load_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(str(path))
    except (paramiko.SSHException, OSError, ValueError) as e:
        raise ConfigError(f"SSH key {path}: cannot load ({e})") from e


def public_key_line(path: Path, comment: str = "simpul-deploy") -> str:
    """``ssh-ed25519 AAAA... simpul-deploy`` for the private key at ``path``."""
    key = load_key(path)
    return f"{key.get_name()} {key.get_base64()} {comment}"


def check_route(t: Target) -> None:
    """Refuse a link-local target that the kernel would send through a gateway (see
    :mod:`simpul.netguard`): the management network is down and the packets would leave."""
    ensure_on_machine(t.name, t.host)


def wrap_ssh_error(name: str, user: str, host: str, port: int, e: BaseException,
                   known_hosts: Path | None = None) -> UnreachableError:
    """The one translation of a paramiko/socket exception into a Simpul error naming the host."""
    if isinstance(e, paramiko.AuthenticationException):
        return AuthError(name, f"authentication failed for {user} ({e})")
    if isinstance(e, paramiko.BadHostKeyException):
        return AuthError(name, "host key does not match known_hosts (possible impersonation)",
                         hint="if the host was rebuilt, review and replace its known_hosts line")
    if isinstance(e, paramiko.SSHException):
        msg = str(e)
        if "not found in known_hosts" in msg:
            return UnreachableError(name, f"host key not in {known_hosts or 'known_hosts'}",
                                    hint="pin it first (ssh-keyscan, reviewed)")
        return UnreachableError(name, f"SSH failed: {msg}")
    return UnreachableError(name, f"cannot connect to {host}:{port} ({e})")


def connect(t: Target, *, user: str | None = None,
            disabled_algorithms: dict[str, list[str]] | None = None,
            timeout: float | None = None) -> paramiko.SSHClient:
    """A fresh, host-key-pinned SSH login with the deploy key. Raises Unreachable/AuthError."""
    check_route(t)
    client = paramiko.SSHClient()
    pin_host_keys(client, t.known_hosts, t.host, t.port)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(t.host, port=t.port, username=user or t.user, key_filename=str(t.key_file),
                       timeout=timeout or t.timeout, banner_timeout=timeout or t.timeout,
                       auth_timeout=timeout or t.timeout, allow_agent=False, look_for_keys=False,
                       disabled_algorithms=disabled_algorithms)
    except (paramiko.SSHException, TimeoutError, OSError, EOFError) as e:
        client.close()
        raise wrap_ssh_error(t.name, user or t.user, t.host, t.port, e, t.known_hosts) from e
    return client


def run(t: Target, command: str, *, sudo: bool = False, timeout: float = 60.0,
        stdin: bytes | None = None) -> tuple[int, str, str]:
    """Run one command over a fresh login; returns (exit status, stdout, stderr).

    ``stdin`` is written to the command's standard input — the way to hand a secret to a
    remote command without putting it on its argument list (visible in ``ps``).
    """
    client = connect(t)
    try:
        full = f"sudo -n -- sh -c {shlex.quote(command)}" if sudo else command
        try:
            chan_in, out, err = client.exec_command(full, timeout=timeout)
            if stdin is not None:
                chan_in.write(stdin)
                chan_in.channel.shutdown_write()
            rc = out.channel.recv_exit_status()
            return rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        except (TimeoutError, paramiko.SSHException, OSError) as e:
            raise UnreachableError(t.name, f"command failed in transit ({e})") from e
    finally:
        client.close()


# --- preflight -------------------------------------------------------------------------------


class PreflightFailed(SimpulError):
    """The host is reachable but not usable for managed work (e.g. sudo asks a password)."""


@dataclass
class ServerFacts:
    """What a preflight learned about a server before any work is planned."""

    init: str = "sysvinit"  # systemd | sysvinit
    confined: bool = False  # kernel-global settings read-only (namespace/container)
    host_keys: list[str] = field(default_factory=list)  # sshd HostKey files
    client_ip: str = ""  # our address as the host sees it ($SSH_CONNECTION)


PREFLIGHT = r"""
echo "client=${SSH_CONNECTION%% *}"
if ! sudo -n true 2>/dev/null; then echo "sudo=no"; exit 0; fi
echo "sudo=ok"
sudo -n sh -c '
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo init=systemd; else echo init=sysvinit; fi
if [ -w /proc/sys/kernel/randomize_va_space ]; then echo confined=no; else echo confined=yes; fi
/usr/sbin/sshd -T 2>/dev/null | awk "\$1==\"hostkey\"{print \"hostkey=\"\$2}"
'
"""


def parse_preflight(name: str, user: str, out: str, err: str = "") -> ServerFacts:
    """Parse the output of :data:`PREFLIGHT` (pure; raises :class:`PreflightFailed`)."""
    kv: dict[str, list[str]] = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        kv.setdefault(k.strip(), []).append(v.strip())
    if kv.get("sudo") != ["ok"]:
        raise PreflightFailed(f"sudo asks {user} for a password; give the deploy user NOPASSWD sudo "
                              "(Simpul never stores or types sudo passwords)")
    hostkeys = kv.get("hostkey", [])
    if not hostkeys:
        raise PreflightFailed("cannot read the running sshd configuration (sshd -T): "
                              f"{err.strip()[:200]}")
    return ServerFacts(init=kv.get("init", ["sysvinit"])[0], confined=kv.get("confined") == ["yes"],
                       host_keys=hostkeys, client_ip=(kv.get("client") or [""])[0])


def preflight(t: Target) -> ServerFacts:
    """Reach the host over a fresh pinned login; check ``sudo -n``; learn the init system,
    whether kernel-global settings are writable, and sshd's host keys. Raises on failure."""
    _, out, err = run(t, PREFLIGHT, timeout=30)
    return parse_preflight(t.name, t.user, out, err)


# --- routers (netmiko) -----------------------------------------------------------------------


def netmiko_params(inv: Inventory, name: str, known_hosts: Path, *,
                   device_type: str, timeout: float = 10.0) -> dict[str, Any]:
    """``ConnectHandler`` keyword arguments for inventory device ``name`` with host-key checking
    **on** (netmiko's ``ssh_strict`` defaults to off) against ``known_hosts``.

    The password is resolved here, at the moment of use; never log the returned dict.
    """
    if name not in inv.devices:
        raise ConfigError(f"{name}: not a device in the inventory ({inv.source or 'inventory'})")
    d = inv.devices[name]
    ensure_on_machine(name, str(d.mgmt_ip))
    return {
        "device_type": device_type, "host": str(d.mgmt_ip), "port": d.ssh_port,
        "username": d.username, "password": resolve_secret(inv, d.credential).get_secret_value(),
        "ssh_strict": True, "system_host_keys": False, "alt_host_keys": True,
        "alt_key_file": pinned_known_hosts_file(known_hosts, str(d.mgmt_ip), d.ssh_port),
        "allow_agent": False, "use_keys": False,
        "conn_timeout": timeout, "auth_timeout": timeout, "banner_timeout": timeout,
    }
