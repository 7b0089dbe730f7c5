"""The netmiko edge's transport choices (network/connection.py), without a router: the CLI
prompt a show command reads until, and the TCP connection under every router login. The logins
themselves run against the lab's real routers (tests/lab/test_net_lab.py)."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from simpul.errors import UnreachableError
from simpul.network.connection import Session, _tcp
from simpul.network.platforms import PLATFORMS


def test_the_frr_prompt_is_the_routers_own_prompt_line_only() -> None:
    prompt = PLATFORMS["frr"].prompt
    assert prompt is not None
    pat = prompt.replace("{base}", re.escape("desa-kemloko"))
    assert re.search(pat, "Building configuration...\nend\ndesa-kemloko# ")
    assert re.search(pat, "x\ndesa-kemloko(config-if)#")
    assert re.search(pat, "x\ndesa-kemloko>")
    # the name inside the output, or another router whose name starts the same, is no prompt
    assert not re.search(pat, "hostname desa-kemloko\n!\n")
    assert not re.search(pat, "desa-kemloko-2#")
    assert not re.search(pat, "desa-kemloko# show running-config\nhostname x")


class _Conn:
    base_prompt = "desa-kemloko"

    def __init__(self) -> None:
        self.kw: dict[str, Any] = {}

    def send_command(self, command: str, **kw: Any) -> str:
        self.kw = kw
        return "ok"


def test_show_reads_until_the_known_prompt_where_the_platform_has_one() -> None:
    conn = _Conn()
    Session("desa-kemloko", PLATFORMS["frr"], conn).show("show version")
    assert re.search(conn.kw["expect_string"], "\ndesa-kemloko#")
    Session("kc-core", PLATFORMS["cisco_ios"], conn).show("show version")
    assert "expect_string" not in conn.kw  # netmiko finds the prompt itself


def test_router_logins_run_over_tcp_without_nagle() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        s = _tcp("r1", "127.0.0.1", port, 5)
        try:
            assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            s.close()
    with pytest.raises(UnreachableError, match=r"r1: cannot connect to 127\.0\.0\.1:\d+ \(Connection refused\)"):
        _tcp("r1", "127.0.0.1", port, 5)  # the listener is closed now
