"""Audit report rendering: JSON shape, failing controls first, bilingual, self-contained HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from simpul.deploys.audit import ControlResult, HostAudit, report_data
from simpul.deploys.catalog import BY_ID
from simpul.deploys.report import render_html, render_text, sort_controls
from simpul.results import Result, Status

NOW = datetime(2026, 10, 31, 8, 0, tzinfo=UTC)


def _data() -> dict[str, Any]:
    good = HostAudit("pd-web", confined=True, outside={"open_tcp": [22, 443], "auth_methods": ["publickey"],
                                                        "kex": "curve25519-sha256@libssh.org",
                                                        "cipher": "aes128-ctr", "mac": "hmac-sha2-256-etm@openssh.com"})
    good.results = [ControlResult(BY_ID["SSH-01"], "pass", "permitrootlogin no"),
                    ControlResult(BY_ID["SYS-07"], "pass", "13 settings persisted", config_only=True),
                    ControlResult(BY_ID["SSH-11"], "na", "strict profile only (host profile: baseline)")]
    bad = HostAudit("pd-db")
    bad.results = [ControlResult(BY_ID["SSH-01"], "pass", "ok"),
                   ControlResult(BY_ID["SSH-02"], "fail", "passwordauthentication=yes (want no)"),
                   ControlResult(BY_ID["FW-02"], "waived", "aplikasi lama (approved by Kabid, until 2027-01-01)",
                                 waiver={"reason": "aplikasi lama", "approver": "Kabid", "expires": "2027-01-01"})]
    # as the runner returns them: findings as the value; an unreachable host has none
    results = [Result("pd-web", Status.OK, value=good), Result("pd-db", Status.CHANGED, value=bad),
               Result("drc-db", Status.UNREACHABLE, "cannot connect to 169.254.100.61:22 (timed out)")]
    inv = SimpleNamespace(organisation=SimpleNamespace(name="Dinas Kominfo Kabupaten Uji"))
    return report_data(inv, results, now=NOW)  # type: ignore[arg-type]


def test_json_report_shape_and_scores() -> None:
    d = _data()
    assert d["kind"] == "simpul.harden.audit" and d["generated"] == "2026-10-31T08:00:00+00:00"
    hosts = {h["host"]: h for h in d["hosts"]}
    assert hosts["pd-web"]["score"] == 100 and hosts["pd-db"]["score"] == 50
    assert hosts["drc-db"]["score"] is None and not hosts["drc-db"]["reachable"]
    assert d["summary"] == {"hosts": 3, "hosts_failing": 2, "controls_failing": 1}
    ssh02 = next(c for c in hosts["pd-db"]["controls"] if c["id"] == "SSH-02")
    assert ssh02["refs"] and ssh02["title"]["id"] and ssh02["title"]["en"]


def test_failing_controls_come_first() -> None:
    hosts = {h["host"]: h for h in _data()["hosts"]}
    assert [c["status"] for c in sort_controls(hosts["pd-db"]["controls"])] == ["fail", "waived", "pass"]


def test_html_is_self_contained_bilingual_and_orders_hosts_worst_first() -> None:
    html = render_html(_data(), "id")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="id">' in html
    assert not re.search(r"<(script|link)\b|src=\"http", html), "no external resources or scripts"
    assert "Laporan Audit Hardening Server" in html and "Server Hardening Audit Report" in html
    assert "Skor (Score)" in html and "gagal" in html and "fail" in html
    # worst host first in the summary; unreachable host shows its reason
    assert html.index("#host-pd-db") < html.index("#host-pd-web")
    assert "cannot connect to 169.254.100.61:22" in html
    # failing control before the passing one within the host section
    sec = html[html.index('id="host-pd-db"'):]
    assert sec.index("SSH-02") < sec.index("SSH-01")
    # references and the config-only note are shown
    assert "Pergub Jambi 12/2022 Pasal 23(2)(b) angka 1" in html
    assert "diperiksa sebagai konfigurasi" in html
    # the evidence is escaped
    assert "<script>" not in render_html(_with_detail("<script>alert(1)</script>"), "en")


def _with_detail(detail: str) -> dict[str, Any]:
    d = _data()
    d["hosts"][0]["controls"][0]["detail"] = detail
    return d


def test_english_report_and_text_rows() -> None:
    html = render_html(_data(), "en")
    assert '<html lang="en">' in html and "Score (Skor)" in html
    rows = {r[0]: r for r in render_text(_data(), "en")}
    assert rows["pd-db"][1] == "50%" and rows["pd-db"][6] == "SSH-02"
    assert "cannot connect" in rows["drc-db"][6]


def test_report_data_is_stable_for_golden_comparison() -> None:
    assert _data() == _data()
