"""``simpul ipam reconcile`` against the running lab: the untouched lab agrees with the plan
(every router read over SSH with netmiko, and the Dinkes LAN swept with ping from its router's
namespace); addresses an engineer adds by hand in vtysh are found — on the router, and
answering in the sweep; they are removed again.

The sweep covers an OPD LAN, whose only host is its router: the Pusat Data LAN's servers keep
their state across ``lab up`` (by design), so what other drills left running there (a service
VIP, say) would make "the untouched lab" depend on who used the lab before."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from labkit import LabEnv
from netmiko import ConnectHandler

from simpul.cli import main
from simpul.lab import orchestrate

pytestmark = pytest.mark.lab

ERROR = r"% Unknown command|% Command incomplete|% Invalid"
HAND = "10.199.40.1/28"  # in the desa supernet, given to nobody
HAND_LAN = "10.199.16.50/26"  # inside the Dinkes LAN, given to nobody


def reconcile(inv: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["--json", "-i", str(inv), "ipam", "reconcile", *args])
    return rc, json.loads(buf.getvalue())


def _vtysh(lab_env: LabEnv, router: str, lines: list[str]) -> None:
    dev = lab_env.inv.devices[router]
    conn = ConnectHandler(
        device_type="cisco_ios", host=str(dev.mgmt_ip), username=dev.username,
        password=lab_env.secret("router-password"), ssh_config_file=None, system_host_keys=False,
        alt_host_keys=True, alt_key_file=str(lab_env.st.known_hosts), use_keys=False,
        allow_agent=False, conn_timeout=10)
    try:
        conn.send_config_set(lines, error_pattern=ERROR)
    finally:
        conn.disconnect()


def test_reconcile_agrees_with_the_untouched_lab_and_finds_a_hand_added_address(lab_env: LabEnv) -> None:
    inv = Path(orchestrate.default_inventory())
    rc, out = reconcile(inv, "--sweep", "dinkes")
    disagree = [f for f in out["findings"] if f["disagrees"]]
    assert rc == 0 and disagree == [] and out["unreachable"] == [], out
    assert out["routers"] == len(lab_env.inv.devices)

    _vtysh(lab_env, "desa-kemloko", ["interface lan0", f" ip address {HAND}"])
    _vtysh(lab_env, "opd-dinkes", ["interface lan0", f" ip address {HAND_LAN}"])
    try:
        rc, out = reconcile(inv, "--sweep", "dinkes")
        assert rc == 6, out
        found = sorted((f["kind"], f["router"], f["interface"], f["address"])
                       for f in out["findings"] if f["disagrees"])
        assert found == [("alive-unallocated", "sweep dinkes", "", "10.199.16.50"),
                         ("unallocated", "desa-kemloko", "lan0", HAND),
                         ("unallocated", "opd-dinkes", "lan0", HAND_LAN)], out
        msg = next(f["message"] for f in out["findings"] if f["address"] == HAND)
        assert "the plan does not give 10.199.40.1 to desa-kemloko" in msg
    finally:
        _vtysh(lab_env, "desa-kemloko", ["interface lan0", f" no ip address {HAND}"])
        _vtysh(lab_env, "opd-dinkes", ["interface lan0", f" no ip address {HAND_LAN}"])
    rc, out = reconcile(inv, "--limit", "desa-kemloko,opd-dinkes", "--sweep", "dinkes")
    assert rc == 0 and not [f for f in out["findings"] if f["disagrees"]], out
