"""Shared pytest setup: every test gets its own Simpul state directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

# Property tests must not fail by chance on a busy machine (2 CPUs shared by many): no per-example
# deadline and no "too slow" health check — a property fails only when a counter-example exists.
settings.register_profile("simpul", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("simpul")
# test harnesses (loopback daemons, fixture replay) live in tests/support, never in the product
sys.path.insert(0, str(REPO / "tests"))


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Unit tests never write into the real state dir (/var/lib/simpul); lab tests set their own.
    if "SIMPUL_TEST_KEEP_STATE" not in __import__("os").environ:
        monkeypatch.setenv("SIMPUL_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def lab_copy(tmp_path: Path) -> Path:
    """A writable copy of inventory/lab, for tests that break it on purpose."""
    import shutil

    dst = tmp_path / "inv"
    shutil.copytree(REPO / "inventory" / "lab", dst)
    return dst


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # A test that skips because a binary is missing or the lab has no servers passes without
    # testing anything. CI sets SIMPUL_TEST_NO_SKIP=1 (.ci/run): there every skip is a failure.
    report = yield
    if os.environ.get("SIMPUL_TEST_NO_SKIP") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but SIMPUL_TEST_NO_SKIP=1 forbids skips: {reason}"
    return report
