"""Admin accounts from the inventory (ACC-07): schema, cross-checks, decisions, drift and fixes.

Keys are generated in the test with ``cryptography`` (no ssh-keygen, no network); the host
state is the text :func:`simpul.deploys.admins.state_script` prints, written out by hand.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import ValidationError

from simpul.deploys import admins as adm
from simpul.deploys import catalog
from simpul.deploys.hostvars import host_vars
from simpul.inventory import InventoryInvalid, load_inventory
from simpul.inventory.models import Admin, parse_public_key

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventory" / "lab"
CONTOH = REPO / "inventory" / "contoh-kabupaten"
TODAY = date(2026, 10, 1)


def pub(kind: str = "ed25519", comment: str = "ani@noc", bits: int = 2048) -> str:
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    line = key.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH).decode()
    return f"{line} {comment}"


def private_pem() -> str:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption()).decode()


# --- schema ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_openssh_public_keys_are_accepted_and_normalised(kind: str) -> None:
    line = pub(kind)
    assert parse_public_key("  " + line.replace(" ", "   ") + "\n") == line


def test_a_private_key_is_refused_saying_so_without_echoing_it() -> None:
    pem = private_pem()
    with pytest.raises(ValidationError) as ei:
        Admin(full_name="Ani Rahmawati", public_keys=[pem])
    msg = str(ei.value)
    assert "this is a private key" in msg
    body = pem.splitlines()[1]
    assert body[:16] not in msg, "the error must not echo the private key"


@pytest.mark.parametrize("line, words", [
    ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "not an OpenSSH public key"),
    ('from="10.0.0.1" ssh-ed25519 AAAA', "options (from=, command=, ...) are not supported"),
    ("ssh-ed25519", "the key data (AAAA...) is missing"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqOwryEBU", "truncated or mangled"),
    ("ssh-ed25519 not-base64!!", "truncated or mangled"),
])
def test_malformed_keys_are_refused(line: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_public_key(line)


def test_key_type_must_match_the_key_data_and_rsa_needs_2048_bits() -> None:
    blob = pub("ed25519").split()[1]
    with pytest.raises(ValueError, match="is a ssh-ed25519 key, not ssh-rsa"):
        parse_public_key(f"ssh-rsa {blob}")
    with pytest.raises(ValueError, match="1024 bits is too weak"):
        parse_public_key(pub("rsa", bits=1024))


def test_admin_rules() -> None:
    with pytest.raises(ValidationError, match="needs at least one public key"):
        Admin(full_name="Ani Rahmawati")
    assert Admin(full_name="Citra Lestari", state="absent").public_keys == []
    k = pub()
    with pytest.raises(ValidationError, match="listed twice"):
        Admin(full_name="Ani Rahmawati", public_keys=[k, k])
    with pytest.raises(ValidationError):
        Admin(full_name="Ani: Rahmawati", public_keys=[k])  # ':' would break /etc/passwd


# --- inventory: sections, inheritance, cross-checks ------------------------------------------------

def problems_of(directory: Path) -> list[str]:
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(directory)
    return [str(p) for p in ei.value.problems]


def line_of(path: Path, needle: str) -> int:
    return next(n for n, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def test_shipped_inventories_have_admins() -> None:
    lab = load_inventory(LAB)
    assert lab.servers["pd-web"].admins == ["ani", "budi"] and lab.admins["ani"].sudo
    contoh = load_inventory(CONTOH)
    assert contoh.servers["pd-web-01"].admins == ["rahmat", "sri"]  # defaults.servers
    assert contoh.servers["pd-db-01"].admins == ["rahmat", "sri", "dewi"]  # group db-servers
    assert contoh.admins["yoga"].state == "absent"


def test_unknown_admin_is_reported_with_file_and_line(lab_copy: Path) -> None:
    f = lab_copy / "servers.yaml"
    f.write_text(f.read_text().replace("admins: [ani]}", "admins: [ani, dodi]}"))
    (p,) = problems_of(lab_copy)
    assert p == (f"inv/servers.yaml:{line_of(f, 'dodi')} servers.pd-app.admins[1]: unknown admin 'dodi' "
                 "(declare it under admins:)")


def test_unknown_admin_inherited_from_a_group_points_at_the_group(lab_copy: Path) -> None:
    f = lab_copy / "organisation.yaml"
    f.write_text(f.read_text().replace("groups:\n", "groups:\n  ops:\n    vars: {admins: [eko]}\n", 1))
    s = lab_copy / "servers.yaml"
    s.write_text(s.read_text().replace("role: db-standby,", "role: db-standby, groups: [ops],"))
    (p,) = problems_of(lab_copy)
    assert p.startswith(f"inv/organisation.yaml:{line_of(f, 'admins: [eko]')} servers.drc-db.admins[0]: "
                        "unknown admin 'eko'")


def test_a_private_key_in_the_inventory_is_refused(lab_copy: Path) -> None:
    f = lab_copy / "admins.yaml"
    pem = "".join(f"        {ln}\n" for ln in private_pem().splitlines())
    f.write_text(f.read_text() + f"  citra:\n    full_name: Citra Lestari\n    public_keys:\n      - |\n{pem}")
    (p,) = problems_of(lab_copy)
    assert p.startswith(f"inv/admins.yaml:{line_of(f, '- |')} admins.citra.public_keys[0]: this is a private key")


def test_admin_names_keys_and_the_deploy_user(lab_copy: Path) -> None:
    f = lab_copy / "admins.yaml"
    ani_key = load_inventory(LAB).admins["ani"].public_keys[0]
    f.write_text(f.read_text()
                 + f"  simpul:\n    full_name: Deploy Orang\n    public_keys: ['{pub()}']\n"
                 + f"  root:\n    full_name: Root Orang\n    public_keys: ['{pub()}']\n"
                 + f"  eko:\n    full_name: Eko Prasetyo\n    public_keys: ['{ani_key}']\n")
    probs = problems_of(lab_copy)
    assert any("admins.simpul: 'simpul' is the deploy user (ssh.user)" in p for p in probs), probs
    assert any("admins.root: 'root' is a system account name" in p for p in probs), probs
    assert any("admins.eko.public_keys[0]: this key is already admin 'ani's" in p for p in probs), probs
    assert len(probs) == 3


def test_inline_password_under_an_admin_is_an_inline_secret(lab_copy: Path) -> None:
    f = lab_copy / "admins.yaml"
    f.write_text(f.read_text().replace("    sudo: true\n", "    sudo: true\n    password: rahasia123\n", 1))
    (p,) = problems_of(lab_copy)
    assert "admins.ani.password: looks like a secret written inline" in p


# --- decisions ------------------------------------------------------------------------------------

def lab_wanted(server: str, today: date = TODAY) -> dict[str, adm.Wanted]:
    return {w.name: w for w in adm.wanted(host_vars(load_inventory(LAB), server), today)}


def test_who_is_present_and_who_is_locked() -> None:
    web, app = lab_wanted("pd-web"), lab_wanted("pd-app")
    assert web["ani"].present and web["ani"].sudo and web["budi"].present and not web["budi"].sudo
    assert web["budi"].expire == date(2031, 1, 1)  # last day 2030-12-31: expired from the next day
    assert not app["budi"].present and app["budi"].reason == "not in servers.pd-app.admins"
    assert app["ani"].keys == tuple(load_inventory(LAB).admins["ani"].public_keys)


def test_expires_is_the_last_day_the_account_works() -> None:
    assert lab_wanted("pd-web", date(2030, 12, 31))["budi"].present
    late = lab_wanted("pd-web", date(2031, 1, 1))["budi"]
    assert not late.present and late.reason == "expired on 2030-12-31"


def test_absent_admins_are_locked_everywhere() -> None:
    inv = load_inventory(CONTOH)
    for srv in ("pd-web-01", "pd-db-01", "pd-app-01"):
        w = {x.name: x for x in adm.wanted(host_vars(inv, srv), TODAY)}
        assert not w["yoga"].present and w["yoga"].reason == "state: absent"
    assert "rahmat ALL=(ALL:ALL) NOPASSWD: ALL" in adm.sudoers(adm.wanted(host_vars(inv, "pd-db-01"), TODAY))
    assert "dewi" not in adm.sudoers(adm.wanted(host_vars(inv, "pd-db-01"), TODAY))


# --- drift ----------------------------------------------------------------------------------------

def state_text(w: dict[str, adm.Wanted]) -> list[str]:
    """The state_script output of a converged pd-web (ani: sudo, budi)."""
    import hashlib

    def sha(t: str) -> str:
        return hashlib.sha256(t.encode()).hexdigest()

    lines = []
    for uid, (name, groups) in enumerate((("ani", "ani simpul-ssh sudo"), ("budi", "budi simpul-ssh"))):
        a = w[name]
        exp = "" if a.expire is None else str((a.expire - adm.EPOCH).days)
        lines += [f"U\t{name}:x:{1001 + uid}:{1001 + uid}:{a.full_name}:/home/{name}:/bin/bash",
                  f"S\t{name}\topen\t{exp}", f"G\t{name}\t{groups}", f"D\t{name}\t700 {name}",
                  f"F\t{name}\t600 {name} {sha(a.authorized_keys)}"]
        lines += [f"K\t{name}\t{k}" for k in a.keys]
    return [*lines, "M\tsimpul,ani,budi", f"X\t{sha(adm.sudoers(list(w.values())))}"]


def test_a_converged_host_has_no_drift() -> None:
    w = lab_wanted("pd-web")
    st = adm.parse_state(state_text(w))
    assert adm.drift(list(w.values()), st, "simpul", TODAY) == []
    assert adm.sudoers_problem(list(w.values()), st) == ""
    assert adm.summary(list(w.values()), st).startswith("admins: ani (sudo): 1 key(s), budi: 1 key(s)")


def test_an_extra_key_is_named_and_the_fix_rewrites_the_file() -> None:
    w = lab_wanted("pd-web")
    extra = pub(comment="hand@added")
    lines = [*state_text(w), f"K\tbudi\t{extra}"]
    (d,) = adm.drift(list(w.values()), adm.parse_state(lines), "simpul", TODAY)
    assert d.account == "budi"
    assert d.problems == (f"1 key(s) not in the inventory: {adm.short_key(extra)}",)
    assert "hand@added" in d.problems[0] and "authorized_keys" in d.fix and "mv -f -T" in d.fix


def test_missing_account_sudo_and_hand_added_group_members() -> None:
    w = lab_wanted("pd-web")
    lines = [ln for ln in state_text(w) if "\tbudi" not in ln and not ln.startswith("U\tbudi")]
    lines = [ln.replace("ani simpul-ssh sudo", "ani simpul-ssh") if ln.startswith("G\tani") else ln
             for ln in lines]
    lines = [ln for ln in lines if not ln.startswith("M\t")] + ["M\tsimpul,ani,mallory"]
    got = {d.account: d for d in adm.drift(list(w.values()), adm.parse_state(lines), "simpul", TODAY)}
    assert got["budi"].problems == ("no account",) and "useradd --create-home" in got["budi"].fix
    assert got["ani"].problems == ("not in sudo (inventory: sudo: true)",)
    assert got["mallory"].fix == "gpasswd -d mallory simpul-ssh >/dev/null"
    assert "simpul" not in got, "the deploy user is never touched"


def test_expired_admin_is_locked_keys_emptied_home_kept() -> None:
    late = date(2031, 1, 2)
    w = lab_wanted("pd-web", late)
    st = adm.parse_state(state_text(lab_wanted("pd-web")))
    (d,) = adm.drift(list(w.values()), st, "simpul", late)
    assert d.account == "budi"
    assert d.problems[0].startswith("should be locked (expired on 2030-12-31): not locked, still in simpul-ssh, "
                                    "1 key(s) still authorised")
    assert "usermod -L -e 1 budi" in d.fix and "gpasswd -d budi simpul-ssh" in d.fix
    assert "userdel" not in d.fix and "rm -rf" not in d.fix  # the home stays for audit
    # once locked: no drift
    locked = [ln for ln in state_text(lab_wanted("pd-web"))
              if not ln.startswith(("S\tbudi", "G\tbudi", "K\tbudi"))]
    locked += ["S\tbudi\tlocked\t1", "G\tbudi\tbudi"]
    st2 = adm.parse_state([ln.replace("M\tsimpul,ani,budi", "M\tsimpul,ani") for ln in locked])
    assert adm.drift(list(w.values()), st2, "simpul", late) == []
    assert "locked: budi (expired on 2030-12-31)" in adm.summary(list(w.values()), st2)


def test_system_accounts_and_symlinks_are_never_followed() -> None:
    w = lab_wanted("pd-web")
    lines = [ln.replace("U\tbudi:x:1002:", "U\tbudi:x:998:") for ln in state_text(w)]
    lines += ["L\tani\tauthorized_keys"]
    got = {d.account: d for d in adm.drift(list(w.values()), adm.parse_state(lines), "simpul", TODAY)}
    assert got["budi"].fix == "" and "system account here (uid 998)" in got["budi"].problems[0]
    assert "symbolic link instead of authorized_keys (not followed)" in got["ani"].problems


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
def test_scripts_are_valid_shell() -> None:
    w = list(lab_wanted("pd-web", date(2031, 1, 2)).values()) + list(lab_wanted("pd-web").values())
    scripts = [adm.state_script([x.name for x in w]), adm.state_script([])]
    scripts += [adm._account_fix(x) for x in w if x.present] + [adm._lock_fix(x) for x in w if not x.present]
    for s in scripts:
        r = subprocess.run(["sh", "-n", "-c", s], capture_output=True, text=True, check=False)
        assert r.returncode == 0, (s, r.stderr)


def test_acc_07_is_in_the_catalog_with_its_references() -> None:
    c = catalog.control("ACC-07")
    assert c.family == "accounts" and c.change == "accounts"
    refs = " ".join(c.refs)
    for r in ("Perbup Temanggung 83/2021 Pasal 18(3)(a)-(b)", "Pergub Jambi 12/2022 Pasal 23(2)(b) angka 1",
              "A.5.15, A.5.16, A.5.18, A.8.2", "CIS Debian Linux 12"):
        assert r in refs, r
