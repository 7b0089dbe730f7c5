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
                    ControlResult(BY_ID["SYS-07"], "unverified", "13 settings persisted", config_only=True),
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
    assert d["summary"] == {"hosts": 3, "hosts_failing": 2, "controls_failing": 1,
                            "controls_unverified": 1}
    # not verified is not a pass: pd-web's score rests on SSH-01 alone
    assert hosts["pd-web"]["counts"] == {"pass": 1, "fail": 0, "waived": 0, "na": 1, "unverified": 1}
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
    assert "Ringkasan (Summary)" in html and "gagal" in html
    # the host that could not be audited first, then the worst score; its reason is shown
    matrix = html[html.index('<table class="matrix">'):html.index("</table>")]
    assert re.findall(r'<tr class="host" data-host="([^"]+)"', matrix) == ["drc-db", "pd-db", "pd-web"]
    assert "cannot connect to 169.254.100.61:22" in matrix
    # failing control before the passing one within the host section
    sec = html[html.index('id="host-pd-db"'):]
    assert sec.index("SSH-02") < sec.index("SSH-01")
    # references are shown once per control, in a collapsible block
    shown = re.findall(r'<details id="ctl-([^"]+)"', html)
    assert sorted(shown) == ["FW-02", "SSH-01", "SSH-02", "SSH-11", "SYS-07"]
    assert html.count('<ul class="refs">') == 5
    assert html.count("<li>Pergub Jambi 12/2022 Pasal 23(2)(b) angka 1") == 4  # all but FW-02
    assert "diperiksa sebagai konfigurasi" in html and "tidak terverifikasi" in html
    # the evidence is escaped
    assert "<script>" not in render_html(_with_detail("<script>alert(1)</script>"), "en")


def _with_detail(detail: str) -> dict[str, Any]:
    d = _data()
    d["hosts"][0]["controls"][0]["detail"] = detail
    return d


def test_english_report_and_text_rows() -> None:
    html = render_html(_data(), "en")
    assert '<html lang="en">' in html and "Summary (Ringkasan)" in html
    rows = {r[0]: r for r in render_text(_data(), "en")}
    assert rows["pd-db"][1] == "50%" and rows["pd-db"][7] == "SSH-02"
    assert rows["pd-web"][6] == "1"  # not verified
    assert "cannot connect" in rows["drc-db"][7]


def test_report_data_is_stable_for_golden_comparison() -> None:
    assert _data() == _data()


def _cells(html: str) -> dict[str, dict[str, str]]:
    """The matrix as {host: {control: status}} from the rendered page."""
    matrix = html[html.index('<table class="matrix">'):]
    matrix = matrix[:matrix.index("</table>")]
    ids = re.findall(r'<th class="id"[^>]*><span>([^<]+)</span>', matrix)
    out = {}
    for host, body in re.findall(r'<tr class="host" data-host="([^"]+)">(.*?)</tr>', matrix, re.S):
        st = re.findall(r'<td class="c (\w+)"', body)
        if st:
            out[host] = dict(zip(ids, st, strict=True))
    return out


def test_matrix_has_one_row_per_host_and_a_cell_per_control() -> None:
    cells = _cells(render_html(_data(), "en"))
    assert cells["pd-db"] == {"SSH-01": "pass", "SSH-02": "fail", "SSH-11": "na", "FW-02": "waived",
                              "SYS-07": "na"}
    assert cells["pd-web"]["SYS-07"] == "unverified" and cells["pd-web"]["SSH-02"] == "na"


def test_what_to_fix_names_each_failing_control_once_with_its_command() -> None:
    from simpul.deploys.report import fix_lines

    html = render_html(_data(), "en")
    tofix = html[html.index('<table class="wide tofix">'):]
    tofix = tofix[:tofix.index("</table>")]
    assert re.findall(r'data-control="([^"]+)"', tofix) == ["SSH-02"]
    assert "simpul harden apply --limit pd-db --apply" in tofix
    c = {"id": "PKG-03", "change": ""}
    assert fix_lines(c, ["pd-db", "pd-web"], "en") == [
        "Install the updates in a maintenance window: simpul run --limit pd-db,pd-web --apply --sudo "
        "-- apt-get -y upgrade, then reboot if required."]


def test_evidence_in_the_reports_language() -> None:
    from simpul.deploys.report import evidence

    assert evidence("installed: True, running: False", "id") == "terpasang: ya, berjalan: tidak"
    assert evidence("pending security updates: 2 (openssl, libc6); reboot required: True; "
                    "package lists from 2026-10-30", "id") == (
        "pembaruan keamanan tertunda: 2 (openssl, libc6); perlu reboot: ya; daftar paket dari 2026-10-30")
    assert evidence("passwordauthentication=yes (want no)", "id") == "passwordauthentication=yes (seharusnya no)"
    assert evidence("no world-writable files", "id") == "tidak ada berkas world-writable"
    assert evidence("installed: True", "en") == "installed: True"
    html = render_html(_data(), "id")
    assert "passwordauthentication=yes (seharusnya no)" in html


def test_timestamps_in_wib_or_the_given_zone() -> None:
    assert "Dibuat (Generated): 2026-10-31 15:00 WIB" in render_html(_data(), "id")
    assert "2026-10-31 16:00 WITA" in render_html(_data(), "en", tz="Asia/Makassar")


def test_comparison_with_the_previous_audit() -> None:
    import copy

    from simpul.deploys.report import compare_audits

    cur = _data()
    prev = copy.deepcopy(cur)
    prev["generated"] = "2026-10-01T08:00:00+00:00"
    for h in prev["hosts"]:
        for c in h["controls"]:
            if (h["host"], c["id"]) == ("pd-db", "SSH-02"):
                c["status"] = "pass"  # SSH-02 failing on pd-db is new
            if (h["host"], c["id"]) == ("pd-web", "SSH-01"):
                c["status"] = "fail"  # and pd-web's SSH-01 was fixed
    cmp = compare_audits(prev, cur)
    assert cmp is not None and cmp["hosts"] == ["pd-db", "pd-web"]
    assert cmp["new_failures"] == [{"host": "pd-db", "control": "SSH-02", "was": "pass"}]
    assert cmp["fixed"] == [{"host": "pd-web", "control": "SSH-01", "now": "pass"}]
    assert compare_audits(None, cur) is None
    html = render_html(cur | {"previous": cmp}, "en")
    sec = html[html.index("Since the previous audit"):]
    assert "Compared with the audit of 2026-10-01 15:00 WIB (2 servers in both)." in sec
    assert re.findall(r'<ul class="changes new"><li>([^<]+)</li>', sec) == ["pd-db — SSH-02"]
    assert re.findall(r'<ul class="changes fixed"><li>([^<]+)</li>', sec) == ["pd-web — SSH-01"]


def test_audit_history_gives_the_previous_audit_of_the_same_hosts(tmp_path: Any) -> None:
    import json

    from simpul.deploys.audit import previous_audit, save_audit

    first = _data()
    first["generated"] = "2026-10-01T08:00:00+00:00"
    save_audit(tmp_path, first)
    other = _data()
    other["generated"] = "2026-10-15T08:00:00+00:00"
    other["hosts"] = [h | {"host": "x-" + h["host"]} for h in other["hosts"]]
    save_audit(tmp_path, other)
    (tmp_path / "audits" / "audit-20261020T000000Z.json").write_text("{not json")
    prev = previous_audit(tmp_path, ["pd-db"])
    assert prev is not None and prev["generated"] == "2026-10-01T08:00:00+00:00"
    assert previous_audit(tmp_path, ["nosuch"]) is None
    assert previous_audit(tmp_path / "none", ["pd-db"]) is None
    stored = json.loads((tmp_path / "audits" / "audit-20261001T080000Z.json").read_text())
    assert stored["kind"] == "simpul.harden.audit" and "previous" not in stored


def test_plan_summary_lists_control_ids_with_counts() -> None:
    from simpul.deploys.cli import change_summary

    ops = [{"op": "Render sshd_config | SSH-01"}, {"op": "Set x | SYS-03"}, {"op": "Set y | SYS-03"},
           {"op": "Install the lock-out guard helper"},
           {"op": "Install the security packages | LOG-01, AUD-01, SYS-03"}]
    assert change_summary(ops) == "SSH-01 SYS-03 (3) LOG-01 AUD-01; 1 supporting"
