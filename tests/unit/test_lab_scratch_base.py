"""``scratch_base``: a throwaway private lab's base directory (its servers' disks hold
gigabytes: benchmarks/bench_backup.py left ~4.5 GB in /tmp per run before) is removed at the
end, after a failure too."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.lab.private import scratch_base


def test_the_base_is_removed_at_the_end_and_after_a_failure() -> None:
    with scratch_base("simpul-scratch-test-") as b:
        (b / "servers" / "pd" / "upper").mkdir(parents=True)
        (b / "servers" / "pd" / "upper" / "disk").write_bytes(b"x" * 4096)
        (b / "servers" / "pd" / "upper" / "disk").chmod(0o400)
        kept = b
    assert isinstance(kept, Path) and not kept.exists()
    with pytest.raises(RuntimeError), scratch_base("simpul-scratch-test-") as b:
        kept = b
        (b / "half-written").write_text("...")
        raise RuntimeError("the benchmark failed half-way")
    assert not kept.exists()
