"""A damaged outbox.sqlite or ledger.sqlite is one clear line naming the file and what to do,
never "internal error" (issue 9 #13)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from support.smallinv import write_small_inventory

from simpul.cli import main
from simpul.monitoring.ledger import Ledger
from simpul.monitoring.outbox import Outbox
from simpul.monitoring.store import StoreError


class Sink:
    name = "s"

    def write(self, lines: object) -> None:
        pass


@pytest.mark.parametrize("store", [Outbox, Ledger])
def test_a_file_that_is_not_a_database(tmp_path: Path, store: type) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(b"this is not SQLite, someone wrote into it\n" * 200)
    with pytest.raises(StoreError) as ei:
        store(path)
    assert ei.value.message.startswith(f"{path}: the ") and "is damaged (file is not a database)" in ei.value.message
    assert ei.value.hint and f"mv {path} {path}.damaged" in ei.value.hint


def test_an_outbox_damaged_inside_is_found_when_read(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    box.put(["s"], [f"m,t=x v={i}i 1" for i in range(40_000)])
    box.close()
    data = bytearray(path.read_bytes())
    for off in range(8192, len(data) - 4096, 8192):  # the header stays, the pages do not
        data[off : off + 512] = bytes(range(256)) * 2
    path.write_bytes(data)
    with pytest.raises(StoreError, match=re.escape(f"{path}: the outbox (points waiting for delivery) is damaged")):
        box = Outbox(path)
        box.flush(Sink())


def test_a_directory_where_the_file_should_be(tmp_path: Path) -> None:
    (tmp_path / "ledger.sqlite").mkdir()
    with pytest.raises(StoreError, match="availability ledger cannot be used"):
        Ledger(tmp_path / "ledger.sqlite")


@pytest.mark.parametrize("name", ["ledger.sqlite", "outbox.sqlite"])
def test_simpul_poll_names_the_damaged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str,
) -> None:
    monkeypatch.setenv("SIMPUL_T_KEY", "a-long-enough-key")
    inv = write_small_inventory(tmp_path, {n: {"env": "SIMPUL_T_KEY"} for n in ("snmp-auth", "snmp-priv", "login")})
    state = tmp_path / "state"
    state.mkdir()
    (state / name).write_bytes(b"garbage" * 1000)
    monkeypatch.setenv("SIMPUL_CONFIG", os.devnull)
    rc = main(["-i", str(inv), "poll", "--once", "--icmp", "none", "--state-dir", str(state),
               "--sink", "influx-v1+http://127.0.0.1:9?db=x"])
    err = capsys.readouterr().err
    assert rc == 1 and f"{state / name}: the " in err and "is damaged" in err, err
    assert "internal error" not in err


def test_a_damaged_ledger_read_by_a_report_names_the_file_not_a_uri(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError) as ei:
        Ledger(path, readonly=True).intervals(0, 1)
    assert ei.value.message == f"{path}: the availability ledger is damaged (file is not a database)"


def test_a_state_dir_that_is_a_file_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SIMPUL_T_KEY", "a-long-enough-key")
    inv = write_small_inventory(tmp_path, {n: {"env": "SIMPUL_T_KEY"} for n in ("snmp-auth", "snmp-priv", "login")})
    state = tmp_path / "state-file"
    state.write_text("")
    monkeypatch.setenv("SIMPUL_CONFIG", os.devnull)
    rc = main(["-i", str(inv), "poll", "--once", "--icmp", "none", "--state-dir", str(state),
               "--sink", "influx-v1+http://127.0.0.1:9?db=x"])
    err = capsys.readouterr().err
    assert rc == 3 and f"state directory {state}: is a file, not a directory" in err, err
