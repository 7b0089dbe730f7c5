"""Pinned host keys (simpul/ssh.py): the known_hosts file is parsed once per process and every
login gets exactly the keys that file pins for its host and port — the same verdicts as
paramiko's own ``load_host_keys`` (tests/lab logs in to real routers and servers with them)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import paramiko
import pytest

from simpul import ssh
from simpul.errors import ConfigError


@pytest.fixture
def keys(tmp_path: Path) -> list[paramiko.PKey]:
    out = []
    for i in range(3):
        p = tmp_path / f"k{i}"
        os.system(f"ssh-keygen -q -t ed25519 -N '' -f {p} >/dev/null")
        out.append(paramiko.Ed25519Key.from_private_key_file(str(p)))
    return out


def _client_keys(client: paramiko.SSHClient) -> dict[str, str]:
    hk = client.get_host_keys()
    return {name: k.get_base64() for name in hk for k in hk[name].values()}


def test_a_login_gets_only_its_hosts_keys_with_paramikos_verdicts(tmp_path: Path,
                                                                  keys: list[paramiko.PKey]) -> None:
    kh = tmp_path / "known_hosts"
    hk = paramiko.HostKeys()
    hk.add("10.0.0.1", keys[0].get_name(), keys[0])
    hk.add("[10.0.0.2]:2222", keys[1].get_name(), keys[1])
    hk.add("core-1", keys[2].get_name(), keys[2])
    hk.save(str(kh))
    # hashed entries, as `ssh-keygen -H` writes them, are found too
    hashed = paramiko.HostKeys()
    hashed.add(paramiko.HostKeys.hash_host("10.0.0.9"), keys[2].get_name(), keys[2])
    with open(kh, "a") as f:
        f.write(open_hashed(hashed, tmp_path))
    for host, port in (("10.0.0.1", 22), ("10.0.0.2", 2222), ("10.0.0.2", 22), ("10.0.0.9", 22),
                       ("10.0.0.3", 22)):
        ours, theirs = paramiko.SSHClient(), paramiko.SSHClient()
        ssh.pin_host_keys(ours, kh, host, port)
        theirs.load_host_keys(str(kh))
        name = host if port == 22 else f"[{host}]:{port}"
        want = theirs.get_host_keys().lookup(name)
        got = ours.get_host_keys().lookup(name)
        assert ({k: v.get_base64() for k, v in got.items()} if got else None) == \
               ({k: v.get_base64() for k, v in want.items()} if want else None), (host, port)
        assert len(_client_keys(ours)) <= 1  # nobody else's keys
    # the file netmiko gets holds that one host's line
    p = ssh.pinned_known_hosts_file(kh, "10.0.0.2", 2222)
    assert Path(p).read_text().split() == ["[10.0.0.2]:2222", keys[1].get_name(), keys[1].get_base64()]
    assert oct(os.stat(p).st_mode & 0o777) in ("0o600", "0o644")


def open_hashed(hk: paramiko.HostKeys, tmp: Path) -> str:
    f = tmp / "hashed"
    hk.save(str(f))
    return f.read_text()


def test_a_changed_file_is_read_again_and_a_missing_one_is_a_clear_error(tmp_path: Path,
                                                                         keys: list[paramiko.PKey]) -> None:
    kh = tmp_path / "known_hosts"
    hk = paramiko.HostKeys()
    hk.add("10.0.0.1", keys[0].get_name(), keys[0])
    hk.save(str(kh))
    c = paramiko.SSHClient()
    ssh.pin_host_keys(c, kh, "10.0.0.1")
    assert c.get_host_keys().lookup("10.0.0.1")["ssh-ed25519"].get_base64() == keys[0].get_base64()
    # the host was rebuilt and its line replaced: the next login pins the new key, not the cached one
    time.sleep(0.02)  # file times are coarse (a jiffy): a rewrite must show as a change
    hk = paramiko.HostKeys()
    hk.add("10.0.0.1", keys[1].get_name(), keys[1])
    hk.save(str(kh))
    c = paramiko.SSHClient()
    ssh.pin_host_keys(c, kh, "10.0.0.1")
    assert c.get_host_keys().lookup("10.0.0.1")["ssh-ed25519"].get_base64() == keys[1].get_base64()
    assert Path(ssh.pinned_known_hosts_file(kh, "10.0.0.1")).read_text().split()[2] == keys[1].get_base64()
    with pytest.raises(ConfigError, match=r"known_hosts .*nope"):
        ssh.pin_host_keys(paramiko.SSHClient(), tmp_path / "nope", "10.0.0.1")


def test_the_file_is_parsed_once_for_many_logins(tmp_path: Path, keys: list[paramiko.PKey],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    kh = tmp_path / "known_hosts"
    hk = paramiko.HostKeys()
    for i in range(50):
        hk.add(f"10.0.1.{i}", keys[i % 3].get_name(), keys[i % 3])
    hk.save(str(kh))
    loads: list[str] = []
    real = paramiko.HostKeys.load
    monkeypatch.setattr(paramiko.HostKeys, "load", lambda self, fn: (loads.append(fn), real(self, fn))[1])
    for i in range(50):
        ssh.pin_host_keys(paramiko.SSHClient(), kh, f"10.0.1.{i}")
        ssh.pinned_known_hosts_file(kh, f"10.0.1.{i}")
    assert loads == [str(kh)]
