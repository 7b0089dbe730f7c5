"""Evidence packs: the requirement map is complete and names only real outputs; a built pack
verifies, and any altered, missing or added file, a forged oplog record, or a foreign signature
makes verification fail naming the file. Offline producers only (no hosts are contacted)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from support.evidenceworld import SECRETS, build_pack, make_world

from simpul.cli import main
from simpul.errors import ConfigError, ExitCode
from simpul.evidence.model import KINDS, Period, RequirementMap, load_map
from simpul.evidence.pack import build, verify
from simpul.evidence.producers import PRODUCERS, BuildContext
from simpul.inventory import load_inventory
from simpul.oplog import record_hash
from simpul.settings import Settings

# --- the map -------------------------------------------------------------------------------------

def test_every_producer_the_map_names_exists() -> None:
    m = load_map()
    unknown = [p for p in m.producers() if p not in PRODUCERS]
    assert not unknown, f"the map names outputs Simpul does not produce: {unknown}"


def test_every_requirement_has_evidence_or_a_stated_gap_and_a_basis() -> None:
    for r in load_map().requirements:
        assert r.basis, r.id
        assert r.producers() or r.gaps, f"{r.id}: neither evidence nor a stated gap"
        assert set(r.evidence) <= set(KINDS)


def test_a_map_naming_an_unknown_output_is_refused(tmp_path: Path) -> None:
    bad = {"version": 1, "requirements": [{
        "id": "XX-01", "area": "x", "title": {"id": "uji uji", "en": "test test"},
        "basis": ["Pasal 1"], "evidence": {"design": ["no-such-output"]}}]}
    m = RequirementMap.model_validate(bad)
    ctx = BuildContext(inv=load_inventory(Path("inventory/lab")), settings=Settings(state_dir=tmp_path),
                       period=Period.parse("2026"), out=tmp_path)
    with pytest.raises(ConfigError, match="unknown producers: no-such-output"):
        build(ctx, m, tmp_path / "pack", sign_key=None, principal="x")
    with pytest.raises(ConfigError, match="duplicate ids"):
        load_map(yaml.safe_dump({"version": 1, "requirements": bad["requirements"] * 2}))


def test_period_parsing() -> None:
    p = Period.parse("2026")
    assert (p.start.isoformat(), p.end.isoformat()) == ("2026-01-01", "2027-01-01")
    assert Period.parse("2026-12").end.isoformat() == "2027-01-01"
    assert p.months(until=datetime(2026, 3, 15).date()) == ["2026-01", "2026-02", "2026-03"]
    from simpul.errors import UsageError
    for bad in ("26", "2026-13", "x"):
        with pytest.raises(UsageError):
            Period.parse(bad)


# --- a built pack ------------------------------------------------------------------------------

@pytest.fixture
def world(lab_copy: Path, tmp_path: Path) -> dict[str, Path]:
    return make_world(lab_copy, tmp_path)




def test_built_pack_verifies_and_says_what_it_holds(world: dict[str, Path], tmp_path: Path) -> None:
    pack = build_pack(world, tmp_path / "pack")
    v = verify(pack)
    assert v.ok, v.problems
    assert "Good" in v.signer and "lab.simpul.test" in v.signer
    data = json.loads((pack / "requirements.json").read_text())
    by = {r["id"]: r for r in data["requirements"]}
    assert by["DOM-01"]["status"] == "gap" and by["DOM-01"]["gaps"]
    # targets alone do not make "tested regularly" met: drills are the effectiveness evidence
    assert by["DRC-02"]["status"] == "partial"
    assert by["NET-03"]["status"] == "partial"  # no implementation evidence in an offline pack
    ev = by["CHG-01"]["evidence"]["effectiveness"][0]
    assert ev["producer"] == "oplog-extract" and ev["status"] == "ok"
    assert "4 recorded changes" in ev["summary"]["en"]
    sla = by["MON-01"]["evidence"]["effectiveness"][0]
    assert sla["status"] == "ok" and "month(s) with data" in sla["summary"]["en"], sla
    # the hour of data may straddle a month boundary: look at every month's desa report
    desa = "".join(p.read_text() for p in (pack / "artefacts/sla-monthly").glob("sla-*-desa.csv"))
    assert "desa-kemloko" in desa
    drills = by["DRC-02"]["evidence"]["effectiveness"][0]
    assert drills["status"] == "ok" and "1 restore drill(s), 1 passed" in drills["summary"]["en"]
    assert "Berita Acara Uji Pemulihan" in (pack / "artefacts/restore-drills/d1.html").read_text()
    fo = by["DRC-02"]["evidence"]["effectiveness"][1]
    assert fo["producer"] == "failover-drills" and "2 failover drill(s), 1 passed" in fo["summary"]["en"]
    assert "partition" in (pack / "artefacts/failover-drills/f2.html").read_text()
    assert ",partition," in (pack / "artefacts/failover-drills/riwayat.csv").read_text()
    assert by["DRC-01"]["evidence"]["effectiveness"][0]["status"] == "ok"
    # the one documented command works without Simpul
    cp = subprocess.run("ssh-keygen -Y verify -f allowed_signers -I lab.simpul.test -n simpul-evidence "
                        "-s SHA256SUMS.sig < SHA256SUMS && sha256sum -c --strict --quiet SHA256SUMS",
                        shell=True, cwd=pack, capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr


def test_no_secret_value_appears_in_any_file_of_the_pack(world: dict[str, Path], tmp_path: Path) -> None:
    pack = build_pack(world, tmp_path / "pack")
    private = (world["secrets"] / "evidence-signing-key").read_text().splitlines()[1]
    for p in pack.rglob("*"):
        if p.is_file():
            body = p.read_bytes()
            for name, value in [*SECRETS.items(), ("signing key", private)]:
                assert value.encode() not in body, f"{p.relative_to(pack)} holds {name}"


@pytest.mark.parametrize("victim", ["index.html", "requirements.json",
                                    "artefacts/inventory-extract/aset-tik.csv",
                                    "artefacts/topology-overview/jaringan-intra.svg",
                                    "allowed_signers"])
def test_one_changed_byte_anywhere_fails_naming_the_file(world: dict[str, Path], tmp_path: Path,
                                                         victim: str) -> None:
    pack = build_pack(world, tmp_path / "pack")
    p = pack / victim
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    v = verify(pack)
    assert not v.ok and f"{victim}: altered" in "\n".join(v.problems), v.problems


def test_a_removed_or_added_file_fails_naming_it(world: dict[str, Path], tmp_path: Path) -> None:
    pack = build_pack(world, tmp_path / "pack")
    (pack / "artefacts/service-targets/target-layanan.csv").unlink()
    (pack / "artefacts/extra.html").write_text("<p>tambahan</p>")
    problems = verify(pack).problems
    assert "artefacts/service-targets/target-layanan.csv: missing (listed in SHA256SUMS)" in problems
    assert "artefacts/extra.html: added (not in SHA256SUMS)" in problems


def test_a_forged_oplog_record_fails_even_with_a_rewritten_manifest(world: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    from simpul.evidence.pack import write_manifest

    pack = build_pack(world, tmp_path / "pack")
    ext = pack / "artefacts/oplog-extract/oplog-extract.jsonl"
    recs = [json.loads(line) for line in ext.read_text().splitlines()]
    recs[1]["target"] = "someone-else"  # the forger also recomputes the record's own hash
    recs[1]["hash"] = record_hash(recs[1])
    ext.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in recs))
    write_manifest(pack)  # and rewrites SHA256SUMS — but cannot sign it
    problems = "\n".join(verify(pack).problems)
    assert "SHA256SUMS.sig: signature does not verify" in problems
    assert "oplog-extract.jsonl:3 (seq 3): does not chain to the record before it" in problems


def test_a_pack_signed_by_another_key_fails_against_the_dinas_key(world: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    pack = build_pack(world, tmp_path / "pack")
    published = tmp_path / "dinas.allowed_signers"
    shutil.copy(pack / "allowed_signers", published)
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    (pack / "SHA256SUMS.sig").unlink()
    subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(other), "-n", "simpul-evidence",
                    str(pack / "SHA256SUMS")], check=True, capture_output=True)
    assert not verify(pack, published).ok


def test_no_availability_data_is_a_stated_gap(world: dict[str, Path], tmp_path: Path) -> None:
    (world["state"] / "ledger.sqlite").unlink()
    pack = build_pack(world, tmp_path / "pack")
    data = json.loads((pack / "requirements.json").read_text())
    sla = next(r for r in data["requirements"] if r["id"] == "MON-01")["evidence"]["effectiveness"][0]
    assert sla["status"] == "gap" and "simpul poll" in sla["summary"]["en"]


def test_an_existing_folder_is_never_overwritten(world: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    (out / "keep.txt").write_text("milik orang lain")
    with pytest.raises(ConfigError, match="already exists"):
        build_pack(world, out)
    assert (out / "keep.txt").read_text() == "milik orang lain"
    assert not [p for p in tmp_path.iterdir() if ".building-" in p.name]


def test_cli_verify_exit_codes(world: dict[str, Path], tmp_path: Path) -> None:
    pack = build_pack(world, tmp_path / "pack")
    assert main(["evidence", "verify", str(pack)]) == ExitCode.OK
    (pack / "index.html").write_text("x")
    assert main(["evidence", "verify", str(pack)]) == ExitCode.ERROR
    assert main(["evidence", "verify", str(tmp_path / "nothing")]) == ExitCode.ERROR
