"""Secrets resolve by name, and every way a reference can be wrong is one clear line (exit 3),
never "internal error"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.smallinv import write_small_inventory

from simpul.cli import main
from simpul.errors import SecretError
from simpul.secrets import read_secret_env, read_secret_file


def _file(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    p = tmp_path / "s"
    p.write_bytes(content)
    p.chmod(mode)
    return p


def test_a_good_file_and_variable_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_secret_file(_file(tmp_path, b"hunter2\n"), "x").get_secret_value() == "hunter2"
    monkeypatch.setenv("SIMPUL_T_SECRET", "s3cr3t")
    assert read_secret_env("SIMPUL_T_SECRET", "x").get_secret_value() == "s3cr3t"


@pytest.mark.parametrize(("make", "said"), [
    (lambda d: d, "is a directory"),
    (lambda d: d / "missing", "does not exist"),
    (lambda d: _file(d, b"hunter2", 0o640), "is readable by group/others (mode 0640)"),
    (lambda d: _file(d, b""), "is empty"),
    (lambda d: _file(d, b"\n"), "is empty"),
    (lambda d: _file(d, b"\xff\xfe\x00binary"), "is not UTF-8 text"),
    (lambda d: Path("/dev/null"), "is not a regular file"),
])
def test_a_bad_secret_file_is_one_clear_error(tmp_path: Path, make: object, said: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(SecretError) as ei:
        read_secret_file(path, "lab-deploy-key")
    assert ei.value.message.startswith("secret 'lab-deploy-key': ") and said in ei.value.message


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_an_empty_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SIMPUL_T_SECRET", value)
    with pytest.raises(SecretError, match="environment variable SIMPUL_T_SECRET is empty"):
        read_secret_env("SIMPUL_T_SECRET", "snmp-community")


def test_an_unset_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIMPUL_T_SECRET", raising=False)
    with pytest.raises(SecretError, match="environment variable SIMPUL_T_SECRET is not set"):
        read_secret_env("SIMPUL_T_SECRET", "snmp-community")


@pytest.mark.parametrize("case", ["dir", "empty-env"])
def test_a_command_using_a_bad_secret_says_which_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str,
) -> None:
    # simpul poll resolves the SNMP secrets of every target before polling anything
    monkeypatch.setenv("SIMPUL_T_KEY", "a-long-enough-key")
    secrets = {n: {"env": "SIMPUL_T_KEY"} for n in ("snmp-auth", "snmp-priv", "login")}
    if case == "dir":
        (tmp_path / "adir").mkdir()
        secrets["snmp-auth"] = {"file": str(tmp_path / "adir")}
        said = f"secret 'snmp-auth': {tmp_path / 'adir'} is a directory"
    else:
        monkeypatch.setenv("SIMPUL_T_AUTH", "")
        secrets["snmp-auth"] = {"env": "SIMPUL_T_AUTH"}
        said = "secret 'snmp-auth': environment variable SIMPUL_T_AUTH is empty"
    inv = write_small_inventory(tmp_path, secrets)
    monkeypatch.setenv("SIMPUL_CONFIG", os.devnull)
    rc = main(["-i", str(inv), "poll", "--once", "--icmp", "none",
               "--sink", "influx-v1+http://127.0.0.1:9?db=x"])
    err = capsys.readouterr().err
    assert rc == 3 and said in err and "internal error" not in err, err


@pytest.mark.parametrize(("make", "said"), [
    (lambda d: d, "cannot read the settings file (Is a directory)"),
    (lambda d: (d / "s.toml").write_bytes(b"\xff\xfe") and d / "s.toml", "not UTF-8 text (byte 0)"),
])
def test_an_unreadable_settings_file_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    make: object, said: str,
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    monkeypatch.setenv("SIMPUL_CONFIG", str(path))
    assert main(["inventory", "show"]) == 3
    err = capsys.readouterr().err
    assert f"{path}: {said}" in err and "internal error" not in err, err
