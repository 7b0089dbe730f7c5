"""NOC services: InfluxDB 1.x (write + InfluxQL) and the v2 write endpoint (VictoriaMetrics)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest
from labkit import LabEnv

from simpul.lab import noc

pytestmark = pytest.mark.lab


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(resp.status), resp.read()


def test_influxdb_accepts_a_write_and_returns_it_by_influxql(lab_env: LabEnv) -> None:
    base = noc.INFLUXDB.url
    _http("POST", f"{base}/query?" + urllib.parse.urlencode({"q": "CREATE DATABASE labtest"}))
    stamp = time.time_ns()
    line = f"if_octets,host=core-1,ifname=eth1 in=12345i,out=678i {stamp}".encode()
    status, _ = _http("POST", f"{base}/write?db=labtest", line)
    assert status == 204
    q = urllib.parse.urlencode({"db": "labtest", "epoch": "ns",
                                "q": "SELECT \"in\",\"out\" FROM if_octets WHERE host='core-1'"})
    _, body = _http("GET", f"{base}/query?{q}")
    series = json.loads(body)["results"][0]["series"][0]
    assert [stamp, 12345, 678] in series["values"]


def test_v2_endpoint_accepts_an_influxdb_client_write(lab_env: LabEnv) -> None:
    from influxdb_client import InfluxDBClient, Point
    from influxdb_client.client.write_api import SYNCHRONOUS

    stamp = time.time_ns() // 1_000_000 * 1_000_000  # VictoriaMetrics keeps milliseconds
    value = float(stamp % 1_000_003)  # unique per run: the data dir outlives the lab
    with InfluxDBClient(url=noc.VICTORIA.url, token="lab", org="lab") as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket="lab", record=Point("labtest").tag("host", "pd-web").field("value", value)
            .time(stamp))
    q = urllib.parse.urlencode({"match[]": 'labtest_value{host="pd-web"}'})
    deadline = time.monotonic() + 15
    while True:
        _http("GET", f"{noc.VICTORIA.url}/internal/force_flush")
        _, body = _http("GET", f"{noc.VICTORIA.url}/api/v1/export?{q}")
        rows = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
        points = {(t, v) for r in rows for t, v in zip(r["timestamps"], r["values"], strict=True)}
        if (stamp // 1_000_000, value) in points:
            return
        assert time.monotonic() < deadline, f"not exported: {body[:300]!r}"
        time.sleep(0.5)
