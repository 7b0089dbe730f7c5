"""Shared pytest setup: every test gets its own Simpul state directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
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
