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
