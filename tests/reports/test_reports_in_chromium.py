"""The reports as a NOC head opens them: rendered by headless Chromium, measured after layout.

SLA report, hardening audit report and the kabupaten overview diagram, in Bahasa Indonesia and
English: the outage list has one row per outage with the right times, each outage is visible
on the time axis at the right day, the audit matrix has one row per host and one cell per
control, the overview prints on one A3 page with no text below 6 pt. Screenshots are kept in
the test's directory (and copied to $SIMPUL_SCREENSHOTS if set) to be looked at.

Marked ``slow``: they run in the lab phase of scripts/test (Chromium takes ~1-2 s per page).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.browser import chromium, measure, print_pdf, screenshot

from simpul.cli import main
from simpul.monitoring.ledger import DOWN, UP, Ledger, LedgerEvent

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium() is None, reason="chromium not installed (scripts/setup)")]

REPO = Path(__file__).resolve().parents[2]
WIB = ZoneInfo("Asia/Jakarta")


def ts(*a: int) -> float:
    return datetime(*a, tzinfo=WIB).timestamp()


def keep(png: Path) -> None:
    """Copy a screenshot to $SIMPUL_SCREENSHOTS for a person to look at."""
    dest = os.environ.get("SIMPUL_SCREENSHOTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(dest) / png.name)


# --- SLA -----------------------------------------------------------------------------------------

OUTAGES = [  # entity, start, end (WIB), what the ledger's events say
    ("desa-kemloko", (2026, 10, 7, 9, 58), (2026, 10, 7, 10, 1), "if-down"),
    ("desa-kemloko", (2026, 10, 15, 22, 10), (2026, 10, 16, 1, 30), "reboot"),
    ("desa-jampiroso", (2026, 10, 20, 11, 0), (2026, 10, 20, 11, 12), "down"),
]


@pytest.fixture(scope="module")
def sla_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("sla")
    state = base / "state"
    led = Ledger(state / "ledger.sqlite")
    s, e = ts(2026, 9, 1), ts(2026, 11, 1)
    for ent in ("desa-kemloko", "desa-jampiroso", "desa-bansari", "desa-kledung"):
        t = s
        for o_ent, a, b, _ in OUTAGES:
            if o_ent == ent:
                led.add_interval(ent, UP, t, ts(*a))
                led.add_interval(ent, DOWN, ts(*a), ts(*b))
                t = ts(*b)
        led.add_interval(ent, UP, t, e)
    led.add_events([
        LedgerEvent(ts(2026, 10, 7, 9, 58, 30), "desa-kemloko", "if-down", "eth0: ifOperStatus 1 → 2"),
        LedgerEvent(ts(2026, 10, 16, 1, 30, 30), "desa-kemloko", "reboot", "snmpEngineBoots 3 → 4"),
        LedgerEvent(ts(2026, 10, 20, 11, 0, 30), "desa-jampiroso", "down",
                    "snmp: timeout; icmp 10.199.255.22: 3 sent, 0 received")])
    led.close()
    pages = {}
    old = os.environ.get("SIMPUL_STATE_DIR")
    os.environ["SIMPUL_STATE_DIR"] = str(state)
    try:
        for lang in ("id", "en"):
            out = base / f"sla-desa-{lang}.html"
            assert main(["-i", str(REPO / "inventory" / "lab"), "sla", "report", "--month", "2026-10",
                         "--by", "desa", "--lang", lang, "-o", str(out)]) == 0
            pages[lang] = out
    finally:
        if old is None:
            os.environ.pop("SIMPUL_STATE_DIR", None)
        else:
            os.environ["SIMPUL_STATE_DIR"] = old
    return pages


SLA_PROBE = """
const rows = [...document.querySelectorAll('table.outages tr.outage')].map(tr => ({
  entity: tr.dataset.entity, start: +tr.dataset.start, end: +tr.dataset.end,
  cells: [...tr.querySelectorAll('td')].map(td => td.innerText.trim())}));
const marks = [...document.querySelectorAll('svg.timeline rect.outage')].map(r => {
  const b = r.getBoundingClientRect();
  return {entity: r.dataset.entity, start: +r.dataset.start, x: b.left, w: b.width, h: b.height,
          title: r.querySelector('title').textContent};});
const days = Object.fromEntries([...document.querySelectorAll('svg.timeline text.day')].map(t => {
  const b = t.getBoundingClientRect(); return [t.textContent, b.left + b.width / 2];}));
const ticks = [...document.querySelectorAll('svg.timeline line.tick')].map(l => l.getBoundingClientRect().left);
return {rows, marks, days, ticks,
        summary: document.querySelectorAll('table.summary tr.entity').length,
        scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
        lang: document.documentElement.lang};
"""


@pytest.mark.parametrize("lang", ["id", "en"])
def test_sla_outage_list_and_timeline_in_chromium(sla_pages: dict[str, Path], lang: str) -> None:
    page = sla_pages[lang]
    keep(screenshot(page, page.with_suffix(".png")))
    m = measure(page, SLA_PROBE)
    assert m["lang"] == lang and m["summary"] == 4  # one row per desa of the lab
    assert m["scrollWidth"] <= m["width"], "the page scrolls sideways"
    # one row per outage, oldest first, with the local start and end times
    assert [(r["entity"], r["start"], r["end"]) for r in m["rows"]] == [
        (e, ts(*a), ts(*b)) for e, a, b, _ in OUTAGES]
    for r, (_e, a, b, _) in zip(m["rows"], OUTAGES, strict=True):
        start = datetime(*a).strftime("%Y-%m-%d %H:%M")
        end = datetime(*b).strftime("%Y-%m-%d %H:%M")
        assert r["cells"][1] == start and r["cells"][2] == end, r
    assert m["rows"][0]["cells"][3] == ("3 menit" if lang == "id" else "3 min")
    causes = [r["cells"][5].splitlines()[0] for r in m["rows"]]
    assert causes == (["link putus", "reboot", "perangkat tidak terjangkau"] if lang == "id"
                      else ["link down", "reboot", "device unreachable"])
    # the timeline: every outage visible (≥ 3 px) at its day on a real axis of 31 days
    assert sorted(m["days"], key=int) == [str(d) for d in range(1, 32)]
    assert len(m["ticks"]) == 31
    assert len(m["marks"]) == 3
    for mark, (_e, a, _b, _) in zip(sorted(m["marks"], key=lambda x: x["start"]), OUTAGES, strict=True):
        assert mark["w"] >= 3 and mark["h"] >= 10, mark
        day = a[2]
        lo, hi = m["ticks"][day - 1], m["ticks"][day] if day < 31 else m["ticks"][-1] + 50
        assert lo <= mark["x"] <= hi, (mark, day, lo, hi)  # drawn inside its day's column
        assert "WIB" in mark["title"] and datetime(*a).strftime("%H:%M") in mark["title"]


# --- hardening audit -------------------------------------------------------------------------


def _audit_data() -> dict[str, Any]:
    from simpul.deploys.audit import ControlResult, HostAudit, report_data
    from simpul.deploys.catalog import CONTROLS
    from simpul.deploys.report import compare_audits
    from simpul.results import Result, Status

    fails = {"pd-web": ["SSH-02", "FW-02"], "pd-app": [], "pd-db": ["SSH-02", "PKG-03", "FILE-04"],
             "drc-backup": ["LOG-02"]}
    results = []
    for name, bad in fails.items():
        ha = HostAudit(name, confined=True, outside={"open_tcp": [22], "auth_methods": ["publickey"],
                                                     "kex": "curve25519-sha256", "cipher": "aes128-ctr",
                                                     "mac": "hmac-sha2-256-etm@openssh.com"})
        for c in CONTROLS:
            if c.profile == "strict":
                ha.results.append(ControlResult(c, "na", "strict profile only (host profile: baseline)"))
            elif c.id in bad:
                ha.results.append(ControlResult(c, "fail", "installed: False, running: False"))
            elif c.scope == "kernel":
                ha.results.append(ControlResult(c, "unverified", "13 settings persisted", config_only=True))
            else:
                ha.results.append(ControlResult(c, "pass", "installed: True, running: True"))
        results.append(Result(name, Status.CHANGED if bad else Status.OK, value=ha))
    results.append(Result("drc-db", Status.UNREACHABLE, "cannot connect to 169.254.100.61:22 (timed out)"))
    inv = SimpleNamespace(organisation=SimpleNamespace(name="Dinas Kominfo Kabupaten Lab"))
    data = report_data(inv, results, now=datetime(2026, 10, 31, 1, 0, tzinfo=UTC))  # type: ignore[arg-type]
    prev = json.loads(json.dumps(data))
    prev["generated"] = "2026-10-01T01:00:00+00:00"
    for h in prev["hosts"]:
        for c in h["controls"]:
            if (h["host"], c["id"]) == ("pd-db", "SSH-02"):
                c["status"] = "pass"
    data["previous"] = compare_audits(prev, data)
    return data


AUDIT_PROBE = """
const ids = [...document.querySelectorAll('table.matrix th.id')].map(th => th.innerText.trim());
const rows = [...document.querySelectorAll('table.matrix tr.host')].map(tr => ({
  host: tr.dataset.host,
  cells: [...tr.querySelectorAll('td.c')].map(td => ({cls: td.className.replace('c ', ''),
     bg: getComputedStyle(td).backgroundColor, w: td.getBoundingClientRect().width})),
  unreachable: tr.querySelector('td.bad') ? tr.querySelector('td.bad').innerText : null}));
const m = document.querySelector('table.matrix').getBoundingClientRect();
const fix = [...document.querySelectorAll('table.tofix tr.fail')].map(tr => tr.dataset.control);
const openDetails = [...document.querySelectorAll('details')].filter(d => d.open).length;
const refsShown = [...document.querySelectorAll('details ul.refs')].filter(u => u.checkVisibility()).length;
return {ids, rows, matrixRight: m.right, width: window.innerWidth, fix, openDetails, refsShown,
        details: document.querySelectorAll('details[id^=ctl-]').length,
        newFail: [...document.querySelectorAll('ul.changes.new li')].map(l => l.innerText),
        scores: [...document.querySelectorAll('svg.scores rect.score')].map(r => r.dataset.host)};
"""


@pytest.mark.parametrize("lang", ["id", "en"])
def test_audit_matrix_in_chromium(tmp_path: Path, lang: str) -> None:
    from simpul.deploys.catalog import CONTROLS
    from simpul.deploys.report import render_html

    data = _audit_data()
    page = tmp_path / f"audit-{lang}.html"
    page.write_text(render_html(data, lang), encoding="utf-8")
    keep(screenshot(page, tmp_path / f"audit-{lang}.png"))
    m = measure(page, AUDIT_PROBE)
    assert m["ids"] == [c.id for c in CONTROLS]
    # one row per host, the one that could not be audited first, then worst score first
    assert [r["host"] for r in m["rows"]] == ["drc-db", "pd-db", "pd-web", "drc-backup", "pd-app"]
    assert m["rows"][0]["unreachable"].startswith("cannot connect") and not m["rows"][0]["cells"]
    for r in m["rows"][1:]:
        assert len(r["cells"]) == len(CONTROLS)
        fails = {m["ids"][i] for i, c in enumerate(r["cells"]) if c["cls"] == "fail"}
        assert fails == {h["host"]: {c["id"] for c in h["controls"] if c["status"] == "fail"}
                         for h in data["hosts"]}[r["host"]]
        for c in r["cells"]:
            assert c["w"] >= 10  # a cell one can see and hover
            if c["cls"] == "fail":
                assert c["bg"] == "rgb(211, 47, 47)"  # red
            if c["cls"] == "waived":
                assert c["bg"] == "rgb(189, 189, 189)"  # grey
    assert m["matrixRight"] <= m["width"], "the matrix runs off the page"
    assert m["fix"] == ["SSH-02", "FW-02", "LOG-02", "PKG-03", "FILE-04"]
    assert m["openDetails"] == 0 and m["refsShown"] == 0  # references collapsed until asked
    assert m["details"] >= len(CONTROLS) - 1
    assert m["newFail"] == ["pd-db — SSH-02"]
    assert m["scores"] == ["pd-db", "pd-web", "drc-backup", "pd-app"]


# --- the kabupaten overview ----------------------------------------------------------------------

OVERVIEW_PROBE = """
const svg = document.querySelector('svg');
const texts = [...svg.querySelectorAll('text')];
const sizes = texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a * 0.75);
const b = svg.getBoundingClientRect();
return {n: texts.length, min_pt: Math.min(...sizes), w_pt: b.width * 0.75, h_pt: b.height * 0.75};
"""


def test_kabupaten_overview_prints_on_one_a3_page_at_6_pt(tmp_path: Path) -> None:
    from pypdf import PdfReader

    svg = tmp_path / "ikhtisar.svg"
    assert main(["-i", str(REPO / "inventory" / "contoh-kabupaten"), "inventory", "graph",
                 "--view", "overview", "-o", str(svg)]) == 0
    body = svg.read_text(encoding="utf-8")
    body = body[body.index("<svg"):]
    page = tmp_path / "ikhtisar.html"
    page.write_text('<!doctype html><html lang="id"><head><meta charset="utf-8"><style>'
                    "@page { size: A3 landscape; margin: 0 } html, body { margin: 0 }"
                    f"</style></head><body>{body}</body></html>", encoding="utf-8")
    keep(screenshot(page, tmp_path / "ikhtisar.png", 1600, 1140))
    m = measure(page, OVERVIEW_PROBE, 1600, 1140)
    assert m["n"] > 300  # every desa and OPD is a text on the page
    assert m["w_pt"] <= 1190.6 and m["h_pt"] <= 841.9, m
    assert m["min_pt"] >= 6.0, m
    pdf = PdfReader(str(print_pdf(page, tmp_path / "ikhtisar.pdf")))
    assert len(pdf.pages) == 1  # it fits: Chromium needed no second A3 page
    box = pdf.pages[0].mediabox
    assert abs(float(box.width) - 1190.55) < 2 and abs(float(box.height) - 841.89) < 2
