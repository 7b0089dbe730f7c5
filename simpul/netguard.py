"""Never send lab or management traffic off this machine by accident.

Link-local addresses (169.254.0.0/16, the lab's management LAN and many NOC management
networks) are never routed (RFC 3927). When the LAN that carries them is down — the lab was
torn down, a VPN dropped — the kernel would send packets for them to the default gateway, off
the machine. Every connection edge (SSH, SNMP, netmiko) asks :func:`off_machine` first and
refuses such a target with a clear reason.
"""

from __future__ import annotations

import ipaddress
import subprocess

from simpul.errors import UnreachableError

LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")


def off_machine(address: str) -> bool:
    """True when ``address`` is link-local but the kernel would route it through a gateway
    (or has no route at all). Other addresses are not judged here."""
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return False
    if addr.version != 4 or addr not in LINK_LOCAL:
        return False
    try:
        cp = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True,
                            timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return cp.returncode != 0 or " via " in cp.stdout


def ensure_on_machine(target: str, address: str) -> None:
    """Raise :class:`UnreachableError` for a link-local ``address`` that would leave the machine."""
    if off_machine(address):
        raise UnreachableError(
            target,
            f"{address} is link-local but no local network carries it; not sending packets off "
            "this machine",
            hint="is the management LAN (or the built-in lab: simpul lab up) up?",
        )
