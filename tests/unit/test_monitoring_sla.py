"""Availability ledger and SLA arithmetic: intervals, maintenance, services, sites, reports."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simpul.inventory.models import Maintenance
from simpul.monitoring.ledger import DOWN, UNKNOWN, UP, Interval, Ledger
from simpul.monitoring.report import to_csv, to_html
from simpul.monitoring.sla import (
    all_up,
    combine,
    maintenance_spans,
    month_range,
    service_rule,
    sla_row,
)

WIB = ZoneInfo("Asia/Jakarta")


def ts(*a: int) -> float:
    return datetime(*a, tzinfo=WIB).timestamp()


def test_month_range_is_local_time() -> None:
    s, e = month_range("2026-10")
    assert s == ts(2026, 10, 1) and e == ts(2026, 11, 1)
    assert (e - s) == 31 * 86400


def test_ledger_places_a_change_at_the_midpoint_and_a_long_gap_is_unknown(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l.sqlite")
    t0 = ts(2026, 10, 5, 8)
    obs = [("desa-a", True, t0 + 60 * i) for i in range(3)]  # up at 0,1,2 min
    obs += [("desa-a", False, t0 + 60 * i) for i in range(3, 13)]  # down 3..12
    obs += [("desa-a", True, t0 + 60 * i) for i in range(13, 16)]  # up 13..15
    led.observe(obs, max_gap=180)
    led.observe([("desa-a", True, t0 + 60 * 30)], max_gap=180)  # poller was off 15 min
    ivs = led.intervals(t0 - 10, t0 + 3600)["desa-a"]
    assert [(i.state, i.start - t0, i.end - t0) for i in ivs] == [
        (UP, 0, 150), (DOWN, 150, 750), (UP, 750, 900), (UNKNOWN, 900, 1800), (UP, 1800, 1800),
    ]
    row = sla_row("desa-a", ivs, t0, t0 + 1800)
    assert row.downtime_min == 10.0  # 10 down observations 1 min apart = 10 minutes
    assert row.incidents == 1
    assert row.nodata_s == 900
    led.close()


def test_weekly_and_one_off_maintenance_windows() -> None:
    start, end = month_range("2026-10")
    weekly = Maintenance(weekday="sun", start=time(1, 0), duration=timedelta(hours=2))
    once = Maintenance(at=datetime(2026, 10, 18, 22, 0, tzinfo=WIB), duration=timedelta(hours=4))
    spans = maintenance_spans([weekly, once], start, end)
    sundays = [4, 11, 18, 25]
    assert len(spans) == 5
    assert spans[0] == (ts(2026, 10, 4, 1), ts(2026, 10, 4, 3))
    assert (ts(2026, 10, 18, 22), ts(2026, 10, 19, 2)) in spans
    assert sum(e - s for s, e in spans) == (len(sundays) * 2 + 4) * 3600


def test_downtime_inside_maintenance_does_not_count() -> None:
    start, end = ts(2026, 10, 4), ts(2026, 10, 5)
    tl = [
        Interval("x", UP, start, ts(2026, 10, 4, 1, 30)),
        Interval("x", DOWN, ts(2026, 10, 4, 1, 30), ts(2026, 10, 4, 3, 10)),  # 100 min down
        Interval("x", UP, ts(2026, 10, 4, 3, 10), end),
    ]
    weekly = Maintenance(weekday="sun", start=time(1, 0), duration=timedelta(hours=2))
    row = sla_row("x", tl, start, end, target=99.0,
                  maintenance=maintenance_spans([weekly], start, end))
    assert row.downtime_min == pytest.approx(10.0)  # only 03:00-03:10 is outside the window
    assert row.maintenance_s == 7200
    assert row.availability == pytest.approx(100 * (86400 - 7200 - 600) / (86400 - 7200))
    assert row.met is True


def test_service_needs_one_server_per_role() -> None:
    s, e = 0.0, 100.0
    members = {
        "web-1": [Interval("web-1", UP, 0, 40), Interval("web-1", DOWN, 40, 100)],
        "web-2": [Interval("web-2", UP, 0, 60), Interval("web-2", DOWN, 60, 100)],
        "db-1": [Interval("db-1", UP, 0, 80), Interval("db-1", DOWN, 80, 90),
                 Interval("db-1", UP, 90, 100)],
    }
    rule = service_rule({"web": ["web-1", "web-2"], "db": ["db-1"]})
    tl = combine(members, rule, s, e, "portal")
    assert [(i.state, i.start, i.end) for i in tl] == [(UP, 0, 60), (DOWN, 60, 100)]
    # a site is down while any of its devices is down
    tl2 = combine({"a": members["web-1"], "b": members["db-1"]}, all_up, s, e)
    assert [(i.state, i.start, i.end) for i in tl2] == [(UP, 0, 40), (DOWN, 40, 100)]


def test_missing_data_is_not_counted_as_up_or_down() -> None:
    row = sla_row("x", [Interval("x", UP, 0, 50)], 0, 100)
    assert row.availability == 100.0 and row.nodata_s == 50
    assert sla_row("y", [], 0, 100).availability is None


def test_reports_render_in_both_languages() -> None:
    s, e = month_range("2026-10")
    rows = [
        sla_row("desa-kemloko", [Interval("d", UP, s, s + 3600), Interval("d", DOWN, s + 3600, s + 7200),
                                 Interval("d", UP, s + 7200, e)], s, e, kind="desa", target=99.5,
                name="Desa Kemloko", reboots=2),
        sla_row("opd-dinkes", [Interval("o", UP, s, e)], s, e, kind="opd", target=99.5),
    ]
    csv_id = to_csv(rows, "id")
    assert csv_id.splitlines()[0].startswith("Entitas,Nama,Jenis,Target (%),Ketersediaan (%)")
    assert "desa-kemloko,Desa Kemloko,desa,99.5,99.866,100.0,tercapai,60.0,0.0,0.0,1,2" in csv_id
    csv_en = to_csv(rows, "en")
    assert csv_en.splitlines()[0].startswith("Entity,Name,Kind,Target (%),Availability (%)")
    assert ",village," in csv_en
    page = to_html(rows, month="2026-10", by="desa", start=s, end=e, lang="en")
    assert page.count("<svg") == 2
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Outage timeline" in page and "desa-kemloko" in page
    page_id = to_html(rows, month="2026-10", by="desa", start=s, end=e, lang="id")
    assert "Linimasa gangguan" in page_id and 'lang="id"' in page_id
    assert "cdn" not in page_id.lower() and "<script" not in page_id


def test_desa_maintenance_window_and_target_from_the_inventory(tmp_path: Path) -> None:
    """A desa's declared site maintenance (the radio link's monthly service) is not downtime,
    and its own availability target is used."""
    import shutil

    from simpul.inventory import load_inventory
    from simpul.monitoring.sla import report_rows

    repo = Path(__file__).resolve().parents[2]
    inv_dir = tmp_path / "inv"
    shutil.copytree(repo / "inventory" / "lab", inv_dir)
    sites = inv_dir / "sites.yaml"
    sites.write_text(sites.read_text().replace(
        "uplink: radio}\n  desa-jampiroso",
        "uplink: radio, availability_target: 99.0,\n"
        "                 maintenance: [{at: 2026-10-06T10:00:00+07:00, duration: 1h}]}\n  desa-jampiroso", 1))
    inv = load_inventory(inv_dir)
    start, end = month_range("2026-10", "Asia/Jakarta")
    tz = ZoneInfo("Asia/Jakarta")
    down_from = datetime(2026, 10, 6, 9, 30, tzinfo=tz).timestamp()
    down_to = datetime(2026, 10, 6, 11, 30, tzinfo=tz).timestamp()  # 120 min down, 60 inside the window
    tl = [Interval("desa-kemloko", UP, start, down_from), Interval("desa-kemloko", DOWN, down_from, down_to),
          Interval("desa-kemloko", UP, down_to, end)]
    rows = {r.entity: r for r in report_rows(inv, {"desa-kemloko": tl}, [], start, end, by="desa")}
    row = rows["desa-kemloko"]
    assert row.target == 99.0
    assert round(row.down_s / 60) == 60 and round(row.maintenance_s / 60) == 60
    assert row.incidents == 1


# --- issue 10: the outage list, causes, the time axis, plurals, comparison, the year ---------------


def _kemloko_month() -> tuple[float, float, list[Interval]]:
    s, e = month_range("2026-10")
    tl = [Interval("desa-kemloko", UP, s, ts(2026, 10, 7, 9, 58)),
          Interval("desa-kemloko", DOWN, ts(2026, 10, 7, 9, 58), ts(2026, 10, 7, 10, 1)),
          Interval("desa-kemloko", UP, ts(2026, 10, 7, 10, 1), ts(2026, 10, 15, 22, 10)),
          Interval("desa-kemloko", DOWN, ts(2026, 10, 15, 22, 10), ts(2026, 10, 16, 1, 30)),
          Interval("desa-kemloko", UP, ts(2026, 10, 16, 1, 30), e)]
    return s, e, tl


def test_outage_causes_from_the_ledger_events() -> None:
    from simpul.monitoring.ledger import LedgerEvent
    from simpul.monitoring.sla import explain_outage

    links = {"desa-a": [("eth0", "core-1", "eth3", "core-desa-a")],
             "core-1": [("eth3", "desa-a", "eth0", "core-desa-a")]}
    span = (1000.0, 1180.0)
    # the peer's end of the uplink went down: a link, named after the inventory link
    ev = [LedgerEvent(1030, "core-1", "if-down", "eth3: ifOperStatus 1 → 2")]
    assert explain_outage(span, ["desa-a"], ev, links) == ("link", "core-desa-a: core-1 eth3 down")
    # the agent answered (no snmp failure) but the data plane did not: a link
    ev = [LedgerEvent(1030, "desa-a", "down", "icmp 10.199.1.1: 3 sent, 0 received")]
    assert explain_outage(span, ["desa-a"], ev, links)[0] == "link"
    # neither SNMP nor ping: the device is unreachable
    ev = [LedgerEvent(1030, "desa-a", "down", "snmp: timeout; icmp 10.199.1.1: 3 sent, 0 received")]
    assert explain_outage(span, ["desa-a"], ev, links)[0] == "unreachable"
    # it came back with a new boot count: a reboot, whatever else was seen
    ev += [LedgerEvent(1210, "desa-a", "reboot", "snmpEngineBoots 3 → 4")]
    assert explain_outage(span, ["desa-a"], ev, links) == ("reboot", "desa-a: snmpEngineBoots 3 → 4")
    # another device's events, or events long before, explain nothing
    far = [LedgerEvent(1030, "desa-b", "reboot", "x"), LedgerEvent(100, "desa-a", "if-down", "eth0: x")]
    assert explain_outage(span, ["desa-a"], far, links) == (None, "")


def test_outage_list_has_times_durations_and_maintenance_cover() -> None:
    from simpul.monitoring.report import outages_csv

    s, e, tl = _kemloko_month()
    # a declared window covers the first hour of the second outage
    maint = [(ts(2026, 10, 15, 22), ts(2026, 10, 15, 23, 10))]
    row = sla_row("desa-kemloko", tl, s, e, kind="desa", maintenance=maint)
    first, second = row.outage_list
    assert (first.start, first.end, first.seconds, first.covered) == (
        ts(2026, 10, 7, 9, 58), ts(2026, 10, 7, 10, 1), 180, "none")
    assert second.covered == "partial" and second.downtime_s == 140 * 60
    assert row.incidents == 2 and row.downtime_min == pytest.approx(3 + 140)
    lines = outages_csv([row], "id").splitlines()
    assert lines[0].startswith("Entitas,Nama,Mulai,Selesai,Zona waktu,Durasi (menit)")
    assert lines[1].startswith("desa-kemloko,desa-kemloko,2026-10-07 09:58:00,2026-10-07 10:01:00,WIB,3.0,3.0,")
    assert ",sebagian," in lines[2]
    d = row.to_dict()["outages"]
    assert d[0]["start_local"] == "2026-10-07T09:58:00+07:00" and d[0]["duration_min"] == 3.0


def test_an_outage_still_running_at_the_end_of_the_data_is_ongoing() -> None:
    s = ts(2026, 10, 1)
    now = ts(2026, 10, 9, 12)
    tl = [Interval("x", UP, s, now - 600), Interval("x", DOWN, now - 600, now)]
    row = sla_row("x", tl, s, now, ongoing_at=now)
    assert [o.ongoing for o in row.outage_list] == [True]


def test_timeline_has_a_day_axis_and_a_three_minute_outage_is_visible() -> None:
    import re

    s, e, tl = _kemloko_month()
    row = sla_row("desa-kemloko", tl, s, e, kind="desa", name="Desa Kemloko")
    page = to_html([row], month="2026-10", by="desa", start=s, end=e, lang="en")
    svg = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="timeline"'):]
    svg = svg[:svg.index("</svg>")]
    days = [int(d) for d in re.findall(r'<text class="day"[^>]*>(\d+)</text>', svg)]
    assert days == list(range(1, 32))
    assert len(re.findall(r'class="weekend"', svg)) == 9  # Oct 2026: 4 Saturdays + 5 Sundays
    marks = re.findall(r'<rect class="outage"[^>]*width="([\d.]+)"[^>]*><title>([^<]*)</title>', svg)
    assert len(marks) == 2
    width, title = marks[0]
    assert float(width) >= 3.0  # 180 s of 31 days is 0.06 px wide: drawn at the minimum width
    assert title == "desa-kemloko: 2026-10-07 09:58–10:01 WIB (3 min) — unknown"
    # the outage list below has one row per outage, with the local times
    rows = re.findall(r'<tr class="outage"[^>]*>(.*?)</tr>', page)
    assert len(rows) == 2 and "2026-10-07 09:58" in rows[0] and "2026-10-07 10:01" in rows[0]
    assert "3 h 20 min" in rows[1]


def test_plurals_and_decimal_commas_in_both_languages() -> None:
    from simpul.monitoring.report import TEXT, _summary, duration, num, plural

    s, e, tl = _kemloko_month()
    one = [sla_row("desa-kemloko", [*tl[:3], Interval("d", UP, tl[2].end, e)], s, e)]
    en = " ".join(_summary(one, TEXT["en"], "en"))
    assert "Target met: 1 of 1 entity." in en and "in 1 incident; 0 reboots." in en
    assert plural(2, "incident", "en") == "incidents" and plural(2, "insiden", "id") == "insiden"
    assert num(44640, "id") == "44.640,0" and num(44640, "en") == "44,640.0"
    assert duration(150, "id") == "2,5 menit" and duration(200 * 60, "en") == "3 h 20 min"
    assert duration(26 * 3600, "id") == "1 hari 2 jam"


def test_comparison_with_the_previous_month() -> None:
    from simpul.monitoring.sla import attach_previous

    s, e, tl = _kemloko_month()
    ps, pe = month_range("2026-09")
    now = sla_row("desa-kemloko", tl, s, e, kind="desa")
    prev = sla_row("desa-kemloko", [Interval("d", UP, ps, pe)], ps, pe, kind="desa")
    nothing = sla_row("desa-jampiroso", [], ps, pe, kind="desa")
    other = sla_row("desa-jampiroso", [Interval("d", UP, s, e)], s, e, kind="desa")
    assert attach_previous([now, other], [prev, nothing], "2026-09") == 1
    assert other.previous is None  # no data last month: no comparison, not a 0 %
    assert now.delta_incidents == 2
    assert now.delta_availability == pytest.approx(now.availability - 100.0)
    page = to_html([now, other], month="2026-10", by="desa", start=s, end=e, lang="id",
                   prev_month="2026-09")
    assert "Dibanding 2026-09 (1 entitas dengan data): membaik 0, memburuk 1, tetap 0; insiden 0 → 2." in page
    assert "Δ vs 2026-09" in page


def test_year_view_adds_times_not_percentages() -> None:
    from simpul.monitoring.report import year_csv, year_html
    from simpul.monitoring.sla import year_rows

    per_month = []
    for m in range(1, 13):
        ms, me = month_range(f"2026-{m:02d}")
        if m > 10:
            per_month.append(None)  # not reported yet
            continue
        tl = [Interval("p", UP, ms, me - 3600), Interval("p", DOWN, me - 3600, me)] if m == 2 else \
            [Interval("p", UP, ms, me)]
        per_month.append([sla_row("portal", tl, ms, me, kind="service", target=99.741)])
    (y,) = year_rows(per_month)
    up = sum(r.up_s for r in per_month[:10] if r for r in r)
    assert y.total.measured_s == sum(month_range(f"2026-{m:02d}")[1] - month_range(f"2026-{m:02d}")[0]
                                     for m in range(1, 11))
    assert y.total.availability == pytest.approx(100 * up / y.total.measured_s)
    assert y.total.incidents == 1 and y.months[10] is None
    lines = year_csv([y], "en").splitlines()
    assert lines[0] == ("Entity,Name,Target (%),Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec,Year,"
                        "Coverage (%),Verdict")
    assert lines[1].startswith("portal,portal,99.741,100.000,99.851,100.000,")
    assert lines[1].endswith(",,,99.986,100.0,met")
    page = year_html([y], year=2026, by="service", lang="id")
    assert "Mei" in page and "Agu" in page and page.count('<tr class="entity"') == 1


def test_short_outages_read_in_seconds() -> None:
    from simpul.monitoring.report import duration

    assert duration(4, "id") == "4 detik" and duration(40, "en") == "40 s"
    assert duration(60, "en") == "1 min"
