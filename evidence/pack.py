"""Build and verify an evidence pack: a self-contained, signed folder an evaluator can check.

Layout of a pack::

    index.html          per requirement: status, evidence links, last verified (ID/EN switch)
    requirements.json   the same, machine-readable
    artefacts/<producer>/...   what each producer collected (HTML/JSON/CSV/SVG)
    allowed_signers     the Dinas's public key, for ``ssh-keygen -Y verify``
    SHA256SUMS          sha256 of every other file (``sha256sum -c SHA256SUMS`` checks it)
    SHA256SUMS.sig      ``ssh-keygen -Y sign -n simpul-evidence`` over SHA256SUMS

Verify with one command (from the pack folder)::

    ssh-keygen -Y verify -f allowed_signers -I <principal> -n simpul-evidence \\
        -s SHA256SUMS.sig < SHA256SUMS && sha256sum -c --strict SHA256SUMS

(or ``simpul evidence verify DIR``, which also re-checks the operations-log chain and names
every altered, missing or added file). Compare the signer's key with the one the Dinas
publishes: a pack re-signed with another key verifies against its own allowed_signers.

The pack is built in a temporary folder beside ``out`` and renamed into place at the end, so an
interrupted build leaves no half pack. No crypto of our own: OpenSSH signs, SHA-256 from
hashlib.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simpul.errors import ConfigError, SimpulError
from simpul.results import Result, Status
from simpul.runner import Hook, run_each

from .model import KINDS, Evidence, Kind, RequirementMap, t
from .producers import PRODUCERS, BuildContext

log = logging.getLogger(__name__)

NAMESPACE = "simpul-evidence"
MANIFEST = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
SIGNERS = "allowed_signers"
UNLISTED = {MANIFEST, SIGNATURE}


# --- build ---------------------------------------------------------------------------------------


@dataclass
class Built:
    path: Path
    requirements: list[dict[str, Any]]
    evidence: dict[str, Evidence]
    signed: bool
    manifest_sha256: str
    zip_path: Path | None = None

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {"met": 0, "partial": 0, "gap": 0}
        for r in self.requirements:
            c[r["status"]] += 1
        return c


def requirement_status(by_kind: Mapping[Kind, list[Evidence]], requires: Sequence[Kind],
                       has_gaps: bool) -> str:
    """``met``: every kind of evidence the requirement needs is there in full and no gap is
    stated; ``gap``: nothing could be shown; ``partial`` otherwise."""
    evs = [e for k in KINDS for e in by_kind.get(k, [])]
    if not any(e.status in ("ok", "partial") for e in evs):
        return "gap"
    complete = all(by_kind.get(k) and all(e.status == "ok" for e in by_kind[k]) for k in requires)
    return "met" if complete and not has_gaps else "partial"


def _collect(ctx: BuildContext, names: Sequence[str], hooks: Sequence[Hook]) -> dict[str, Evidence]:
    def task(name: str) -> Result:
        ev = PRODUCERS[name](ctx)
        return Result(name, Status.OK if ev.status != "failed" else Status.FAILED,
                      ev.summary.en, value=ev)

    out: dict[str, Evidence] = {}
    for r in run_each(list(names), task, parallel=3, hooks=hooks):
        ev = r.value if isinstance(r.value, Evidence) else None
        out[r.target] = ev or Evidence(r.target, "failed",
                                       t(f"gagal: {r.message}", f"failed: {r.message}"))
    return out


def build(ctx: BuildContext, rmap: RequirementMap, out: Path, *, sign_key: Path | None,
          principal: str, make_zip: bool = False, hooks: Sequence[Hook] = ()) -> Built:
    """Collect every producer the map names into ``out`` (which must not exist yet)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: already exists and is not empty",
                          hint="give a new --out folder (an evidence pack is never overwritten)")
    unknown = [p for p in rmap.producers() if p not in PRODUCERS]
    if unknown:
        raise ConfigError(f"evidence map names unknown producers: {', '.join(unknown)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        ctx.out = tmp
        evidence = _collect(ctx, rmap.producers(), hooks)
        reqs = []
        for r in rmap.requirements:
            items = {k: [evidence[p].to_dict() for p in r.evidence.get(k, [])] for k in KINDS}
            evs = [evidence[p] for p in r.producers()]
            by_kind = {k: [evidence[p] for p in r.evidence.get(k, [])] for k in KINDS}
            reqs.append({
                "id": r.id, "area": r.area, "title": r.title.model_dump(), "basis": r.basis,
                "related": r.related, "evidence": items, "requires": list(r.requires),
                "gaps": [g.model_dump() for g in r.gaps],
                "status": requirement_status(by_kind, r.requires, bool(r.gaps)),
                "last_verified": max((e.verified_at for e in evs), default=None),
            })
        meta = {"organisation": ctx.inv.organisation.name, "period": ctx.period.label,
                "built": ctx.now.isoformat(timespec="seconds"), "principal": principal,
                "namespace": NAMESPACE, "tool": "simpul evidence build"}
        (tmp / "requirements.json").write_text(json.dumps({"meta": meta, "requirements": reqs},
                                                          ensure_ascii=False, indent=2) + "\n")
        (tmp / "index.html").write_text(render_index(meta, reqs, ctx.tz), encoding="utf-8")
        (tmp / "VERIFY.txt").write_text(VERIFY_TEXT.format(principal=principal, ns=NAMESPACE))
        signed = False
        if sign_key is not None:
            pub = _public_key(sign_key)
            (tmp / SIGNERS).write_text(f'{principal} namespaces="{NAMESPACE}" {pub}\n')
        digest = write_manifest(tmp)
        if sign_key is not None:
            _sign(tmp / MANIFEST, sign_key)
            signed = True
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    zip_path = None
    if make_zip:
        zip_path = Path(shutil.make_archive(str(out), "zip", root_dir=out.parent, base_dir=out.name))
    return Built(out, reqs, evidence, signed, digest, zip_path)


def write_manifest(root: Path) -> str:
    """Write ``SHA256SUMS`` over every file under ``root``; return the manifest's own sha256."""
    lines = [f"{_sha256(p)}  {rel}" for rel, p in _files(root) if rel not in UNLISTED]
    text = "\n".join(lines) + "\n"
    (root / MANIFEST).write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def _files(root: Path) -> list[tuple[str, Path]]:
    return sorted((str(p.relative_to(root)), p) for p in root.rglob("*") if p.is_file())


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _public_key(key: Path) -> str:
    cp = subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(key)], capture_output=True,
                        text=True, check=False)
    if cp.returncode != 0:
        raise ConfigError(f"evidence signing key {key}: cannot read it ({cp.stderr.strip()[:200]})",
                          hint="an unencrypted OpenSSH private key (ssh-keygen -t ed25519 -N '')")
    return " ".join(cp.stdout.split()[:2])


def _sign(manifest: Path, key: Path) -> None:
    cp = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(manifest)],
                        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise SimpulError(f"signing {manifest.name} failed: {cp.stderr.strip()[:300]}")


VERIFY_TEXT = """Paket bukti Simpul / Simpul evidence pack

Periksa keaslian dan keutuhan (dari folder ini) / check authenticity and integrity (in this folder):

  ssh-keygen -Y verify -f allowed_signers -I {principal} -n {ns} -s SHA256SUMS.sig < SHA256SUMS \\
    && sha256sum -c --strict SHA256SUMS

Bandingkan kunci publik di allowed_signers dengan kunci yang diumumkan Dinas.
Compare the public key in allowed_signers with the key the Dinas publishes.
With Simpul installed: simpul evidence verify <this folder> [--allowed-signers FILE]
"""


# --- index.html -------------------------------------------------------------------------------

STATUS_TEXT = {"met": ("Terpenuhi", "Met"), "partial": ("Sebagian", "Partial"), "gap": ("Celah", "Gap")}
EV_TEXT = {"ok": ("ada", "present"), "partial": ("sebagian", "partial"), "gap": ("tidak ada", "none"),
           "failed": ("gagal", "failed")}
KIND_TEXT = {"design": ("Rancangan", "Design"), "implementation": ("Penerapan", "Implementation"),
             "effectiveness": ("Efektivitas", "Effectiveness")}


def _bi(id_: str, en: str) -> str:
    return f'<span class="id">{html.escape(id_)}</span><span class="en">{html.escape(en)}</span>'


def render_index(meta: dict[str, Any], reqs: list[dict[str, Any]], tz: str) -> str:
    """The pack's front page: self-contained HTML, no script; the ID/EN switch is pure CSS
    (``index.html#en`` opens it in English)."""
    built = datetime.fromisoformat(meta["built"]).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
    counts = {k: sum(1 for r in reqs if r["status"] == k) for k in STATUS_TEXT}
    rows = []
    for r in reqs:
        st_id, st_en = STATUS_TEXT[r["status"]]
        cells = []
        for k in KINDS:
            items = r["evidence"].get(k, [])
            if not items:
                if k in r["requires"]:
                    cells.append(f'<td class="missing">{_bi("belum ada bukti", "no evidence yet")}</td>')
                else:
                    cells.append('<td class="none">—</td>')
                continue
            parts = []
            for ev in items:
                links = " ".join(
                    f'<a href="{html.escape(a["path"])}">{_bi(a["title"]["id"], a["title"]["en"])}</a>'
                    for a in ev["artefacts"])
                e_id, e_en = EV_TEXT[ev["status"]]
                parts.append(f'<div class="ev ev-{ev["status"]}"><b>{html.escape(ev["producer"])}</b> '
                             f'<span class="tag">{_bi(e_id, e_en)}</span><br>'
                             f'{_bi(ev["summary"]["id"], ev["summary"]["en"])}'
                             f'{"<br>" + links if links else ""}</div>')
            cells.append(f"<td>{''.join(parts)}</td>")
        gaps = "".join(f'<div class="gapnote">{_bi(g["id"], g["en"])}</div>' for g in r["gaps"])
        basis = "<br>".join(html.escape(b) for b in r["basis"])
        related = "<br>".join(html.escape(x) for x in r["related"])
        verified = ""
        if r["last_verified"]:
            verified = datetime.fromisoformat(r["last_verified"]).astimezone(
                ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
        rows.append(
            f'<tr id="{r["id"]}"><td><b>{r["id"]}</b><br><span class="st st-{r["status"]}">'
            f'{_bi(st_id, st_en)}</span></td>'
            f'<td>{_bi(r["title"]["id"], r["title"]["en"])}<div class="basis">{basis}</div>'
            f'{"<div class=related>" + related + "</div>" if related else ""}{gaps}</td>'
            f'{"".join(cells)}<td class="when">{html.escape(verified)}</td></tr>')
    head_cells = "".join(f"<th>{_bi(*KIND_TEXT[k])}</th>" for k in KINDS)
    summary = (f'{_bi("Terpenuhi", "Met")}: <b>{counts["met"]}</b> · '
               f'{_bi("Sebagian", "Partial")}: <b>{counts["partial"]}</b> · '
               f'{_bi("Celah", "Gap")}: <b>{counts["gap"]}</b>')
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<title>Paket Bukti SPBE / SPBE evidence — {html.escape(meta["organisation"])} {html.escape(meta["period"])}</title>
<style>
body{{font-family:"DejaVu Sans",sans-serif;margin:0;color:#1f2933;background:#fafafa}}
header,main,footer{{padding:1em 2em}} header{{background:#0f3a5d;color:#fff}}
header h1{{margin:0 0 .3em;font-size:22px}} header p{{margin:.2em 0}}
.switch{{float:right;font-size:14px}} .switch a{{border:1px solid #fff;padding:3px 9px;border-radius:3px;color:#fff;text-decoration:none}}
.en{{display:none}} html:has(#en:target) .en{{display:inline}} html:has(#en:target) .id{{display:none}}
html:not(:has(#en:target)) .switch a[href="#id"], html:has(#en:target) .switch a[href="#en"]{{background:#fff;color:#0f3a5d}}
table{{border-collapse:collapse;width:100%;background:#fff;font-size:13px}}
th,td{{border:1px solid #d2d6dc;padding:6px;vertical-align:top;text-align:left}}
th{{background:#e4e7eb}} td.none{{color:#9aa5b1;text-align:center}}
td.missing{{color:#991b1b;background:#fff5f5;text-align:center;font-size:12px}} td.when{{white-space:nowrap;color:#52606d}}
.basis{{color:#52606d;font-size:12px;margin-top:4px}} .related{{color:#7b8794;font-size:11px;margin-top:2px}}
.st{{display:inline-block;margin-top:4px;padding:2px 6px;border-radius:3px;font-size:12px;font-weight:bold}}
.st-met{{background:#d1fae5;color:#065f46}} .st-partial{{background:#fef3c7;color:#92400e}} .st-gap{{background:#fee2e2;color:#991b1b}}
.ev{{margin-bottom:6px}} .ev a{{display:inline-block;margin:2px 6px 0 0}}
.tag{{font-size:11px;padding:0 4px;border-radius:2px;background:#e4e7eb}}
.ev-failed .tag,.ev-gap .tag{{background:#fee2e2}} .ev-partial .tag{{background:#fef3c7}}
.gapnote{{margin-top:6px;padding:4px;background:#fff7ed;border-left:3px solid #f59e0b;font-size:12px}}
pre{{background:#fff;border:1px solid #d2d6dc;padding:8px;overflow:auto}}
</style></head><body>
<span id="id"></span><span id="en"></span>
<header>
<div class="switch"><a href="#id">Bahasa Indonesia</a> <a href="#en">English</a></div>
<h1>{_bi("Paket Bukti Evaluasi SPBE dan Audit TIK", "Evidence for SPBE evaluation and ICT audit")}</h1>
<p>{html.escape(meta["organisation"])}</p>
<p>{_bi("Periode", "Period")}: <b>{html.escape(meta["period"])}</b> · {_bi("Dibuat", "Built")}: {html.escape(built)}</p>
<p>{summary}</p>
</header>
<main>
<table><thead><tr><th>{_bi("Kode", "Code")}</th><th>{_bi("Uraian dan dasar", "Requirement and basis")}</th>
{head_cells}<th>{_bi("Terakhir diverifikasi", "Last verified")}</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>
</main>
<footer>
<h2>{_bi("Cara memverifikasi paket ini", "How to verify this pack")}</h2>
<p>{_bi("Dari folder paket ini (OpenSSH dan coreutils):", "From this pack's folder (OpenSSH and coreutils):")}</p>
<pre>ssh-keygen -Y verify -f allowed_signers -I {html.escape(meta["principal"])} -n {NAMESPACE} -s SHA256SUMS.sig &lt; SHA256SUMS \\
  &amp;&amp; sha256sum -c --strict SHA256SUMS</pre>
<p>{_bi("Bandingkan kunci publik di allowed_signers dengan kunci yang diumumkan Dinas.",
        "Compare the public key in allowed_signers with the key the Dinas publishes.")}</p>
</footer>
</body></html>
"""


# --- verify ----------------------------------------------------------------------------------


@dataclass
class Verified:
    path: Path
    ok: bool
    files: int = 0
    problems: list[str] = field(default_factory=list)
    signer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": self.ok, "files": self.files,
                "problems": self.problems, "signer": self.signer}


def verify(root: Path, allowed_signers: Path | None = None) -> Verified:
    """Check the manifest, the signature and the operations-log extract; name every problem."""
    root = Path(root)
    v = Verified(root, False)
    if not root.is_dir():
        v.problems.append(f"{root}: not a folder")
        return v
    man = root / MANIFEST
    if not man.is_file():
        v.problems.append(f"{MANIFEST}: missing (not an evidence pack, or its manifest was removed)")
        return v
    listed: dict[str, str] = {}
    for n, line in enumerate(man.read_text(errors="replace").splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or not rel:
            v.problems.append(f"{MANIFEST}:{n}: malformed line")
            continue
        listed[rel] = digest
    present = {rel: p for rel, p in _files(root) if rel not in UNLISTED}
    for rel, digest in listed.items():
        p = present.get(rel)
        if p is None:
            v.problems.append(f"{rel}: missing (listed in {MANIFEST})")
        elif _sha256(p) != digest:
            v.problems.append(f"{rel}: altered (sha256 differs from {MANIFEST})")
    for rel in sorted(set(present) - set(listed)):
        v.problems.append(f"{rel}: added (not in {MANIFEST})")
    v.files = len(listed)
    v.problems += _check_signature(root, allowed_signers, v)
    v.problems += check_oplog_extract(root / "artefacts" / "oplog-extract" / "oplog-extract.jsonl")
    v.ok = not v.problems
    return v


def _check_signature(root: Path, allowed: Path | None, v: Verified) -> list[str]:
    sig = root / SIGNATURE
    signers = allowed or root / SIGNERS
    if not sig.is_file():
        return [f"{SIGNATURE}: missing (the pack is not signed)"]
    if not signers.is_file():
        return [f"{signers}: missing (no key to verify the signature against)"]
    lines = [ln for ln in signers.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        return [f"{signers}: empty"]
    principal = lines[0].split()[0]
    with (root / MANIFEST).open("rb") as f:
        cp = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", principal,
                             "-n", NAMESPACE, "-s", str(sig)], stdin=f, capture_output=True,
                            text=True, check=False)
    if cp.returncode != 0:
        return [f"{SIGNATURE}: signature does not verify against {signers.name} "
                f"({(cp.stderr or cp.stdout).strip()[:200]})"]
    v.signer = cp.stdout.strip()
    return []


def check_oplog_extract(path: Path) -> list[str]:
    """Re-check the extract's records: each hash, and each record chained to the one before."""
    from simpul.oplog import record_hash

    if not path.is_file():
        return []
    rel = "artefacts/oplog-extract/oplog-extract.jsonl"
    problems = []
    prev_hash: str | None = None
    prev_seq: int | None = None
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            problems.append(f"{rel}:{n}: not valid JSON")
            prev_hash = prev_seq = None
            continue
        if not isinstance(rec, dict):
            problems.append(f"{rel}:{n}: not a record")
            continue
        if record_hash(rec) != rec.get("hash"):
            problems.append(f"{rel}:{n} (seq {rec.get('seq')}): content does not match its hash (forged or edited)")
        seq = rec.get("seq")
        if prev_hash is not None and isinstance(seq, int) and prev_seq is not None:
            if seq != prev_seq + 1:
                problems.append(f"{rel}:{n}: seq {seq} follows {prev_seq} (a record was removed or inserted)")
            elif rec.get("prev") != prev_hash:
                problems.append(f"{rel}:{n} (seq {seq}): does not chain to the record before it")
        prev_hash = str(rec.get("hash"))
        prev_seq = seq if isinstance(seq, int) else None
    return problems


def now_utc() -> datetime:
    return datetime.now(UTC)
