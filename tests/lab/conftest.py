"""The built-in lab for ``tests/lab``: brought up once per session, torn down at the end.

``lab_env`` snapshots the host (namespaces, links, routes, mounts, processes) *before* the lab
comes up, so ``test_lab_teardown.py`` (always run last) can prove that ``down`` leaves the
machine as it found it. A lab that is already up is taken down first and the servers start
from fresh disks: the tests need a lab built by this code, from ``inventory/lab``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from labkit import NEEDS, LabEnv, snapshot

from simpul.inventory.loader import load_inventory
from simpul.lab import orchestrate, servers
from simpul.lab.topology import plan


@pytest.fixture(scope="session")
def lab_env() -> Iterator[LabEnv]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    missing = [b for b in NEEDS if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (run scripts/setup)")
    inv = load_inventory(orchestrate.default_inventory())
    st = orchestrate.state()
    if orchestrate.lab_namespaces():
        orchestrate.down(st=st)
    # fresh disks: what an earlier session (a demo, a drill, a developer) left on the servers —
    # a deployed cluster, backup jobs, hardening — must not decide this session's results
    for name in inv.servers:
        servers.reset_server(name, st.root)
    before = snapshot()
    report = orchestrate.up(inv, st=st)
    env = LabEnv(inv, plan(inv), st, before, servers=report.servers > 0)
    try:
        yield env
    finally:
        orchestrate.down(st=st)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the teardown test takes the lab down: it must run after every other lab test
    last = [i for i in items if i.nodeid.split("::")[0].endswith("test_lab_teardown.py")]
    for i in last:
        items.remove(i)
    items.extend(last)
