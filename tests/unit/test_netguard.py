"""Link-local targets that the kernel would route through a gateway are refused (no packets
leave the machine when the lab or the management LAN is down)."""

from __future__ import annotations

import subprocess

import pytest

from simpul.errors import UnreachableError
from simpul.netguard import ensure_on_machine, off_machine


def _routed_via_gateway(addr: str) -> bool:
    cp = subprocess.run(["ip", "route", "get", addr], capture_output=True, text=True, check=False)
    return cp.returncode != 0 or " via " in cp.stdout


def test_non_link_local_is_not_judged() -> None:
    assert off_machine("127.0.0.1") is False
    assert off_machine("10.1.2.3") is False
    assert off_machine("not-an-ip") is False


def test_unused_link_local_is_refused() -> None:
    # 169.254.251.0/24 is used by nothing here: unless some local LAN carries it, the kernel
    # would send it to the default gateway — exactly what must be refused.
    addr = "169.254.251.7"
    if not _routed_via_gateway(addr):
        pytest.skip("this machine has a local route for 169.254.251.0/24")
    assert off_machine(addr) is True
    with pytest.raises(UnreachableError, match="not sending packets off this machine"):
        ensure_on_machine("core-9", addr)
