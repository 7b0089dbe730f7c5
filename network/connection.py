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
import re
import socket
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
from simpul.ssh import netmiko_params, pin_host_keys, wrap_ssh_error

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
        base = getattr(self.conn, "base_prompt", None)
        expect = ({"expect_string": self.platform.prompt.replace("{base}", re.escape(base))}
                  if self.platform.prompt and isinstance(base, str) and base else {})
        try:
            out = self.conn.send_command(command, read_timeout=read_timeout, **expect)
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

    def _transport(self) -> paramiko.Transport:
        transport = self.conn.remote_conn.get_transport()
        if transport is None or not transport.is_active():
            raise SessionLost(self.name, "the SSH transport is closed")
        return transport  # type: ignore[no-any-return]

    def exec(self, command: str, *, timeout: float = 30.0, stdin: str | None = None) -> tuple[int, str, str]:
        """Run a non-interactive command on a new channel of this session's SSH transport.

        What runs is up to the device's login shell (the lab routers' shell runs one vtysh
        command, or its device helper for ``simpul-helper ...``).
        """
        return self.exec_many([command], timeout=timeout, stdin=stdin)[0]

    def exec_many(self, commands: Sequence[str], *, timeout: float = 30.0,
                  stdin: str | None = None) -> list[tuple[int, str, str]]:
        """Run ``commands`` at the same time, one channel each on this session's transport
        (SSH multiplexes them; no threads): ``[(exit code, stdout, stderr)]`` in order."""
        return self.exec_wait(self.exec_start(commands, timeout=timeout, stdin=stdin), timeout=timeout)

    def exec_start(self, commands: Sequence[str], *, timeout: float = 30.0,
                   stdin: str | None = None) -> list[Any]:
        """Start ``commands`` on channels of their own and return at once (collect the answers
        with :meth:`exec_wait`); meanwhile the session's CLI can be used."""
        try:
            transport = self._transport()
            chans = []
            for command in commands:
                chan = transport.open_session(timeout=timeout)
                chan.settimeout(timeout)
                chan.exec_command(command)
                if stdin is not None:
                    chan.sendall(stdin.encode())
                chan.shutdown_write()
                chans.append(chan)
            return chans
        except (TimeoutError, paramiko.SSHException, OSError, EOFError) as e:
            first = commands[0].split()[0] if commands and commands[0].split() else "?"
            raise SessionLost(self.name, f"'{first}' failed in transit ({e})") from e

    def exec_wait(self, chans: Sequence[Any], *, timeout: float = 30.0) -> list[tuple[int, str, str]]:
        """The answers of channels from :meth:`exec_start`, in order.

        Blocking reads (paramiko wakes the thread when data or EOF arrive): no polling loop,
        which with 50 routers at once costs the client real CPU. The answers are small, so
        reading stdout to EOF before stderr cannot stall on a full window."""
        try:
            res = []
            for chan in chans:
                chan.settimeout(timeout)
                out, err = bytearray(), bytearray()
                while data := chan.recv(65536):
                    out += data
                while data := chan.recv_stderr(65536):
                    err += data
                if not chan.status_event.wait(timeout):
                    raise TimeoutError(f"no exit status within {timeout:.0f} s")
                res.append((chan.recv_exit_status(), out.decode(errors="replace"),
                            err.decode(errors="replace")))
                chan.close()
            return res
        except (TimeoutError, paramiko.SSHException, OSError, EOFError) as e:
            raise SessionLost(self.name, f"a command failed in transit ({e})") from e

    def alive(self) -> bool:
        """The SSH transport is still up (asked without writing to the CLI: netmiko's
        ``is_alive`` types a NUL byte, which would end up in vtysh's next command line)."""
        try:
            t = self.conn.remote_conn.get_transport()
            return t is not None and bool(t.is_active())
        except (AttributeError, OSError, EOFError):
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


class _ExecOnly:
    """What :class:`Session` needs of a netmiko connection, for a login without an
    interactive CLI: a paramiko client whose commands each run on their own channel."""

    def __init__(self, client: paramiko.SSHClient) -> None:
        self.client = client
        self.remote_conn = self  # Session._transport() asks remote_conn.get_transport()

    def get_transport(self) -> paramiko.Transport | None:
        return self.client.get_transport()

    def is_alive(self) -> bool:
        t = self.client.get_transport()
        return t is not None and t.is_active()

    def disconnect(self) -> None:
        self.client.close()


class ExecSession(Session):
    """A login without an interactive CLI: every command on its own channel (the device's
    login shell must accept one command per channel, as the lab's Linux+FRR routers do).

    Used for the post-check's *fresh* login: it proves the same thing (the NOC can still log
    in) without netmiko's prompt detection and paging set-up (~0.25 s per login)."""

    def show(self, command: str, *, read_timeout: float = 30.0) -> str:
        rc, out, err = self.exec(command, timeout=read_timeout)
        if rc != 0:
            raise CommandRejected(self.name, command, err or out)
        return out

    def configure(self, lines: Sequence[str], *, read_timeout: float = 60.0) -> str:
        raise SimpulError(f"{self.name}: an exec-only session cannot configure")


def open_session(inv: Inventory, name: str, known_hosts: Path, *, timeout: float = 10.0,
                 exec_only: bool = False) -> Session:
    """Log in to router ``name`` (host key pinned); raise UnreachableError/AuthError naming it.

    ``exec_only``: a lighter login for platforms whose login shell runs one command per
    channel (:attr:`Platform.exec_channel`): an :class:`ExecSession`. Otherwise (or when the
    platform cannot) a netmiko session."""
    plat = platform_of(inv, name)
    if exec_only and plat.exec_channel:
        return _open_exec(inv, name, known_hosts, plat, timeout)
    return _open_netmiko(inv, name, known_hosts, plat, timeout)


def _tcp(name: str, host: str, port: int, timeout: float) -> socket.socket:
    """The TCP connection under an SSH login, with ``TCP_NODELAY``: SSH sends many small
    packets one after another (key exchange, channel requests, a command's EOF), and with
    Nagle's algorithm each waits for the peer's delayed ACK (~40 ms on Linux). Measured on the
    lab (benchmarks/bench_net_steps.py): a device-helper call 49 → 8 ms, a fresh login 88 →
    43 ms, for the same CPU. (paramiko and netmiko leave Nagle on.)"""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as e:
        raise UnreachableError(name, f"cannot connect to {host}:{port} (timed out)") from e
    except OSError as e:
        raise UnreachableError(name, f"cannot connect to {host}:{port} ({e.strerror or e})") from e
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _open_exec(inv: Inventory, name: str, known_hosts: Path, plat: Platform, timeout: float) -> Session:
    params = netmiko_params(inv, name, known_hosts, device_type=plat.device_type, timeout=timeout)
    dev = inv.devices[name]
    client = paramiko.SSHClient()
    pin_host_keys(client, known_hosts, str(dev.mgmt_ip), dev.ssh_port)  # an unknown or changed key is refused
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        sock = _tcp(name, params["host"], params["port"], timeout)
    except UnreachableError:
        params.pop("password", None)
        raise
    try:
        client.connect(params["host"], port=params["port"], username=params["username"],
                       password=params.pop("password"), look_for_keys=False, allow_agent=False,
                       timeout=timeout, auth_timeout=timeout, banner_timeout=timeout, sock=sock)
    except paramiko.AuthenticationException as e:
        client.close()
        raise AuthError(name, f"authentication failed for {dev.username}",
                        hint="check the device's credential secret") from e
    except (TimeoutError, OSError, paramiko.SSHException, EOFError, ValueError) as e:
        client.close()
        sock.close()
        if isinstance(e, TimeoutError | socket.timeout):
            raise UnreachableError(name, f"cannot connect to {dev.mgmt_ip}:{dev.ssh_port} (timed out)") from e
        raise wrap_ssh_error(name, dev.username, str(dev.mgmt_ip), dev.ssh_port, e, known_hosts) from e
    finally:
        params.pop("password", None)
    return ExecSession(name, plat, _ExecOnly(client))


def _open_netmiko(inv: Inventory, name: str, known_hosts: Path, plat: Platform, timeout: float) -> Session:
    """Log in to router ``name`` (host key pinned); raise UnreachableError/AuthError naming it."""
    params = netmiko_params(inv, name, known_hosts, device_type=plat.device_type, timeout=timeout)
    params["session_timeout"] = max(60.0, timeout * 6)
    dev = inv.devices[name]
    try:
        params["sock"] = _tcp(name, params["host"], params["port"], timeout)
    except UnreachableError:
        params.pop("password", None)
        raise
    try:
        conn = ConnectHandler(**params)
    except NetmikoAuthenticationException as e:
        params["sock"].close()
        raise AuthError(name, f"authentication failed for {dev.username}",
                        hint="check the device's credential secret") from e
    except NetmikoTimeoutException as e:
        params["sock"].close()
        raise UnreachableError(name, f"cannot connect to {dev.mgmt_ip}:{dev.ssh_port} (timed out)") from e
    except (paramiko.SSHException, OSError, EOFError, ValueError) as e:
        params["sock"].close()
        raise wrap_ssh_error(name, dev.username, str(dev.mgmt_ip), dev.ssh_port, e, known_hosts) from e
    finally:
        params.pop("password", None)
    return Session(name, plat, conn)
