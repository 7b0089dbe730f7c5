"""ACC-07 against a real lab server: admin accounts from the inventory, over SSH only.

One private lab server (``sthard<k>-web``, see :class:`simpul.lab.private.PrivateLab`). The
admins' key pairs are generated here, at test time (the inventory only ever holds the public
halves). The tests run in order and share the server: apply creates the admins → they log in
(sudo only where allowed) → a hand-added key is flagged by audit and removed by apply → an
expired admin is locked and can no longer log in. Torn down in the fixture, also on failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from simpul.deploys.audit import audit_hosts, findings
from simpul.deploys.runner import run_hosts
from simpul.errors import SimpulError
from simpul.inventory import load_inventory
from simpul.lab.private import PrivateLab, leftovers_of
from simpul.results import Status
from simpul.ssh import Target, run
from simpul.ssh import server_target as target_for

pytestmark = pytest.mark.lab
W = "web"


def keypair(d: Path, name: str) -> tuple[Path, str]:
    key = d / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(key)],
                   check=True)
    return key, key.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateLab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    for b in ("ip", "unshare", "ssh-keygen", "ssh"):
        if shutil.which(b) is None:
            pytest.skip(f"missing {b}")
    pl = PrivateLab(tmp_path_factory.mktemp("sthard"), [W])
    try:
        pl.up()
        yield pl
    finally:
        pl.close()
        assert not leftovers_of(pl), "private lab namespaces left behind"


@pytest.fixture(scope="module")
def keys(lab: PrivateLab) -> dict[str, tuple[Path, str]]:
    d = lab.base / "admin-keys"
    d.mkdir(mode=0o700)
    return {n: keypair(d, n) for n in ("ani", "budi", "intruder")}


def admins_inventory(lab: PrivateLab, keys: dict[str, tuple[Path, str]], budi_expires: str = "2099-12-31") -> None:
    lab.write_inventory(
        admins={"ani": {"full_name": "Ani Rahmawati", "public_keys": [keys["ani"][1]], "sudo": True},
                "budi": {"full_name": "Budi Santoso", "public_keys": [keys["budi"][1]],
                         "expires": budi_expires}},
        server_admins={W: ["ani", "budi"]})


def deploy(lab: PrivateLab) -> Target:
    return target_for(load_inventory(lab.inventory_dir), lab.n(W), lab.known_hosts)


def as_user(lab: PrivateLab, user: str, key: Path) -> Target:
    return replace(deploy(lab), user=user, key_file=key)


def login(t: Target, cmd: str = "id -un") -> tuple[int, str]:
    rc, out, err = run(t, cmd)
    return rc, out + err


def can_log_in(t: Target) -> bool:
    try:
        rc, out = login(t)
    except SimpulError:
        return False
    return rc == 0 and out.strip() == t.user


def apply(lab: PrivateLab):  # type: ignore[no-untyped-def]
    (r,) = run_hosts(load_inventory(lab.inventory_dir), [lab.n(W)], "apply", lab.known_hosts)
    return r


def acc07(lab: PrivateLab):  # type: ignore[no-untyped-def]
    (a,) = findings(audit_hosts(load_inventory(lab.inventory_dir), [lab.n(W)], lab.known_hosts))
    assert a.reachable and not a.message, a.message
    return a, next(r for r in a.results if r.control.id == "ACC-07")


def test_apply_creates_the_admins_who_log_in_with_their_keys(lab: PrivateLab, keys: dict[str, tuple[Path, str]]) -> None:
    admins_inventory(lab, keys)
    (plan,) = run_hosts(load_inventory(lab.inventory_dir), [lab.n(W)], "plan", lab.known_hosts)
    planned = {c["op"].split(" | ", 1)[1]: c["detail"] for c in plan.data["changes"] if "ACC-07" in c["controls"]}
    assert planned["Admin account ani | ACC-07"] == "ani: no account"  # op names: "<deploy> | <op> | ID"
    first = apply(lab)
    assert first.status is Status.CHANGED, first.message
    ani, budi = as_user(lab, "ani", keys["ani"][0]), as_user(lab, "budi", keys["budi"][0])
    assert can_log_in(ani) and can_log_in(budi) and can_log_in(deploy(lab))
    assert login(ani, "sudo -n true && echo sudo-ok") == (0, "sudo-ok\n")  # sudo: true
    rc, out = login(budi, "sudo -n true")
    assert rc != 0 and ("password is required" in out or "not allowed" in out), out  # sudo: false
    assert not can_log_in(as_user(lab, "ani", keys["budi"][0])), "only her own key"
    rc, out, _ = run(deploy(lab), "getent passwd ani; chage -l budi | grep 'Account expires'; "
                                  "stat -c '%a %U' ~ani ~ani/.ssh ~ani/.ssh/authorized_keys", sudo=True)
    assert "Ani Rahmawati" in out and "/bin/bash" in out and "Jan 01, 2100" in out
    assert "750 ani\n700 ani\n600 ani" in out
    second = apply(lab)
    assert (second.status, second.data["changed_ops"], second.data["changes"]) == (Status.OK, 0, []), second.data["changes"]


def test_audit_passes_with_evidence(lab: PrivateLab) -> None:
    a, r = acc07(lab)
    assert r.status == "pass", r.detail
    assert r.detail.startswith("admins: ani (sudo): 1 key(s), budi: 1 key(s)")
    assert not [(x.control.id, x.detail) for x in a.results if x.status == "fail"]


def test_a_hand_added_key_is_flagged_by_audit_and_removed_by_apply(
        lab: PrivateLab, keys: dict[str, tuple[Path, str]]) -> None:
    intruder_key, intruder_pub = keys["intruder"]
    rc, _, err = run(deploy(lab), f"echo '{intruder_pub}' >> ~budi/.ssh/authorized_keys; "
                                  "useradd -m -s /bin/bash -G simpul-ssh mallory", sudo=True)
    assert rc == 0, err
    sneaky = as_user(lab, "budi", intruder_key)
    assert can_log_in(sneaky), "the hand-added key works before the repair"
    a, r = acc07(lab)
    assert r.status == "fail"
    assert "budi: 1 key(s) not in the inventory: ssh-ed25519 ..." in r.detail and "intruder@test" in r.detail
    assert "mallory is in simpul-ssh but is not an inventory admin" in r.detail
    assert {x.control.id for x in a.results if x.status == "fail"} == {"ACC-07"}
    (plan,) = run_hosts(load_inventory(lab.inventory_dir), [lab.n(W)], "plan", lab.known_hosts)
    assert sorted(c["op"] for c in plan.data["changes"]) == ["Accounts | Admin account budi | ACC-07",
                                                     "Accounts | Admin account mallory | ACC-07"]
    fix = apply(lab)
    assert fix.status is Status.CHANGED and fix.data["changed_ops"] == 2, fix.message
    assert not can_log_in(sneaky)
    assert can_log_in(as_user(lab, "budi", keys["budi"][0]))
    assert "simpul-ssh" not in run(deploy(lab), "id -nG mallory", sudo=True)[1]
    assert acc07(lab)[1].status == "pass"


def test_an_expired_admin_is_locked_and_cannot_log_in(lab: PrivateLab, keys: dict[str, tuple[Path, str]]) -> None:
    admins_inventory(lab, keys, budi_expires="2020-01-01")
    (plan,) = run_hosts(load_inventory(lab.inventory_dir), [lab.n(W)], "plan", lab.known_hosts)
    (ch,) = plan.data["changes"]
    assert ch["op"] == "Accounts | Admin account budi | ACC-07" and "should be locked (expired on 2020-01-01)" in ch["detail"]
    locked = apply(lab)
    assert locked.status is Status.CHANGED and locked.data["changed_ops"] == 1, locked.message
    assert not can_log_in(as_user(lab, "budi", keys["budi"][0]))
    rc, out, _ = run(deploy(lab), "getent shadow budi | cut -d: -f2,8; test -d ~budi && echo home-kept; "
                                  "wc -c < ~budi/.ssh/authorized_keys; id -nG budi", sudo=True)
    assert rc == 0 and out.split("\n")[:4] == ["!*:1", "home-kept", "0", "budi"], out
    assert can_log_in(as_user(lab, "ani", keys["ani"][0])) and can_log_in(deploy(lab))
    a, r = acc07(lab)
    assert r.status == "pass" and "locked: budi (expired on 2020-01-01)" in r.detail, r.detail
    assert not [(x.control.id, x.detail) for x in a.results if x.status == "fail"]
    again = apply(lab)
    assert (again.status, again.data["changed_ops"]) == (Status.OK, 0), again.data["changes"]
