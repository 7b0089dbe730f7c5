"""Fixtures shared by the unit tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "inventory" / "lab"


@pytest.fixture
def lab_copy(tmp_path: Path) -> Path:
    """A writable copy of inventory/lab, for tests that break it on purpose."""
    dst = tmp_path / "inv"
    shutil.copytree(LAB, dst)
    return dst
