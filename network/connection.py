"""The netmiko edge of ``simpul net``: one login to one router, errors wrapped once.

Every router session goes through :func:`open_session`: connection parameters come from
:func:`simpul.ssh.netmiko_params` (host key pinned against the known_hosts file, password
resolved at the moment of use), and netmiko/paramiko exceptions become Simpul errors that name
the router (``desa-kemloko: cannot connect to 169.254.100.31:22 (timed out)``).

A :class:`Session` offers show commands, config lines (with the platform's ``error_pattern``,
leaving config mode after an error — FRR stays in it otherwise) and, for devices whose login
shell accepts one, a non-interactive command on a second channel of the same SSH transport
(``exec``): the lab's Linux+FRR routers use it to reach their device helper without a second
login.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from netmiko import ConnectHandler
from netmiko.exceptions import (
    ConfigInvalidException,
    NetmikoAuthenticationException,
    NetmikoTimeoutException,
    ReadException,
    ReadTimeout,
    WriteException,
)

from simpul.errors import AuthError, SimpulError, UnreachableError
from simpul.inventory.models import Inventory
from simpul.ssh import netmiko_params, wrap_ssh_error

from .platforms import Platform, platform_of

log = logging.getLogger(__name__)


class CommandRejected(SimpulError):
    """The router rejected a command (its answer matched the platform's error pattern)."""

    def __init__(self, target: str, command: str, answer: str) -> None:
        super().__init__(f"{target}: the router rejected '{command.strip()}': "
                         f"{answer.strip().splitlines()[-1][:200] if answer.strip() else '?'}")
        self.target = target
        self.command = command
        self.answer = answer


class SessionLost(UnreachableError):
    """The SSH session broke while we were using it (cut link, killed session, timeout)."""


@dataclass
class Session:
    """One open netmiko connection to one router."""

    name: str
    platform: Platform
    conn: Any  # netmiko BaseConnection
    opened: float = field(default_factory=time.monotonic)

    # --- show commands ---------------------------------------------------------------------

    def show(self, command: str, *, read_timeout: float = 30.0) -> str:
        """Run a show command; return its output (no prompt, no echo)."""
        try:
            out = self.conn.send_command(command, read_timeout=read_timeout)
        except (ReadTimeout, ReadException, OSError, EOFError, paramiko.SSHException) as e:
            raise SessionLost(self.name, f"'{command}' failed in transit ({e})") from e
        return str(out)

    # --- configuration ---------------------------------------------------------------------

    def configure(self, lines: Sequence[str], *, read_timeout: float = 60.0) -> str:
        """Send config lines in config mode; raise :class:`CommandRejected` on an error answer.

        Config mode is always left again, also after an error (FRR would stay in it).
        """
        if not lines:
            return ""
        try:
            return str(self.conn.send_config_set(list(lines), error_pattern=self.platform.error_pattern,
                                                 read_timeout=read_timeout))
        except ConfigInvalidException as e:
            self._leave_config_mode()
            text = str(e)
            bad = next((ln for ln in lines if ln.strip() and ln.strip() in text), lines[-1])
            raise CommandRejected(self.name, bad, text) from e
        except (ReadTimeout, ReadException, WriteException, OSError, EOFError,
                paramiko.SSHException) as e:
            raise SessionLost(self.name, f"configuration interrupted ({e})") from e

    def _leave_config_mode(self) -> None:
        try:
            if self.conn.check_config_mode():
                self.conn.exit_config_mode()
        except Exception as e:  # the session may be gone too; the caller reports the rejection
            log.debug("%s: could not leave config mode: %s", self.name, e)

    # --- a second channel on the same transport ----------------------------------------------

    def exec(self, command: str, *, timeout: float = 30.0, stdin: str | None = None) -> tuple[int, str, str]:
        """Run a non-interactive command on a new channel of this session's SSH transport.

        What runs is up to the device's login shell (the lab routers' shell runs one vtysh
        command, or its device helper for ``simpul-helper ...``).
        """
        try:
            transport = self.conn.remote_conn.get_transport()
            if transport is None or not transport.is_active():
                raise SessionLost(self.name, "the SSH transport is closed")
            chan = transport.open_session(timeout=timeout)
            chan.settimeout(timeout)
            chan.exec_command(command)
            if stdin is not None:
                chan.sendall(stdin.encode())
            chan.shutdown_write()
            out, err = bytearray(), bytearray()
            while True:
                if chan.recv_ready():
                    out += chan.recv(65536)
                elif chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                elif chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                else:
                    time.sleep(0.005)
            rc = chan.recv_exit_status()
            chan.close()
            return rc, out.decode(errors="replace"), err.decode(errors="replace")
        except (TimeoutError, paramiko.SSHException, OSError, EOFError) as e:
            raise SessionLost(self.name, f"'{command.split()[0]}' failed in transit ({e})") from e

    def alive(self) -> bool:
        try:
            return bool(self.conn.is_alive())
        except Exception:
            return False

    def close(self) -> None:
        try:
            self.conn.disconnect()
        except Exception as e:  # closing a dead session is not an error worth reporting
            log.debug("%s: disconnect: %s", self.name, e)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_session(inv: Inventory, name: str, known_hosts: Path, *, timeout: float = 10.0) -> Session:
    """Log in to router ``name`` (host key pinned); raise UnreachableError/AuthError naming it."""
    plat = platform_of(inv, name)
    params = netmiko_params(inv, name, known_hosts, device_type=plat.device_type, timeout=timeout)
    params["session_timeout"] = max(60.0, timeout * 6)
    dev = inv.devices[name]
    try:
        conn = ConnectHandler(**params)
    except NetmikoAuthenticationException as e:
        raise AuthError(name, f"authentication failed for {dev.username}",
                        hint="check the device's credential secret") from e
    except NetmikoTimeoutException as e:
        raise UnreachableError(name, f"cannot connect to {dev.mgmt_ip}:{dev.ssh_port} (timed out)") from e
    except (paramiko.SSHException, OSError, EOFError, ValueError) as e:
        raise wrap_ssh_error(name, dev.username, str(dev.mgmt_ip), dev.ssh_port, e, known_hosts) from e
    finally:
        params.pop("password", None)
    return Session(name, plat, conn)
