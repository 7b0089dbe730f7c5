"""Link-local targets that the kernel would route through a gateway are refused (no packets
leave the machine when the lab or the management LAN is down).

The kernel's answer is what :func:`off_machine` judges, so the tests give it known answers: a
stand-in ``ip`` on ``PATH`` prints what ``ip route get`` prints in each situation (the outputs
are iproute2's, copied from real runs) — the test never decides by asking the real routing
table with the function's own logic.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simpul.errors import UnreachableError
from simpul.netguard import ensure_on_machine, off_machine


def fake_ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: str, rc: int = 0) -> Path:
    """Put an ``ip`` that prints ``stdout``, exits ``rc`` and records its arguments first on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "out").write_text(stdout)
    args = bindir / "args"
    script = bindir / "ip"
    script.write_text(f'#!/bin/sh\necho "$@" > {args}\ncat {bindir / "out"}\nexit {rc}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return args


def test_non_link_local_is_not_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = fake_ip(tmp_path, monkeypatch, "10.1.2.3 via 192.0.2.1 dev eth0 src 192.0.2.5 uid 0\n")
    assert off_machine("127.0.0.1") is False
    assert off_machine("10.1.2.3") is False
    assert off_machine("not-an-ip") is False
    assert not args.exists()  # not even asked


@pytest.mark.parametrize(("route", "rc", "leaves"), [
    # the lab (or the management LAN) is up: a local interface carries it
    ("169.254.100.21 dev slab-mgmt src 169.254.100.1 uid 0 \n    cache \n", 0, False),
    ("local 169.254.100.1 dev lo src 169.254.100.1 uid 0 \n    cache <local> \n", 0, False),
    # nothing local carries it: the default route would take it off the machine
    ("169.254.251.7 via 10.0.2.2 dev eth0 src 10.0.2.15 uid 0 \n    cache \n", 0, True),
    # no route at all
    ("RTNETLINK answers: Network is unreachable\n", 2, True),
])
def test_the_kernels_answer_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str, rc: int,
                                    leaves: bool) -> None:
    args = fake_ip(tmp_path, monkeypatch, route, rc)
    addr = route.split()[0] if route[0].isdigit() else "169.254.251.7"
    assert off_machine(addr) is leaves
    assert args.read_text().split() == ["route", "get", addr]


def test_without_ip_the_answer_is_no(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ip here: cannot tell, so refuse
    assert off_machine("169.254.100.21") is True


def test_refusal_names_the_target_and_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ip(tmp_path, monkeypatch, "169.254.251.7 via 10.0.2.2 dev eth0 src 10.0.2.15 uid 0\n")
    with pytest.raises(UnreachableError) as ei:
        ensure_on_machine("core-9", "169.254.251.7")
    assert ei.value.message == ("core-9: 169.254.251.7 is link-local but no local network carries "
                                "it; not sending packets off this machine")
    assert ei.value.hint and "simpul lab up" in ei.value.hint
    fake_ip(tmp_path, monkeypatch, "169.254.100.21 dev slab-mgmt src 169.254.100.1 uid 0\n")
    ensure_on_machine("core-1", "169.254.100.21")  # carried locally: allowed
