"""Sinks: where line protocol goes.

- :class:`InfluxV1Sink` — the InfluxDB 1.x ``/write`` API (Debian's influxd 1.6 speaks only
  this): ``POST /write?db=…&rp=…&precision=s``, answered by 204.
- :class:`InfluxV2Sink` — ``influxdb-client``'s v2 write API (InfluxDB 1.8+/2.x/3.x, and
  VictoriaMetrics at ``/api/v2/write``).

Sinks are configured by URL (``--sink``)::

    influx-v1+http://127.0.0.1:8086?db=simpul&rp=autogen      [&user=U&password_env=VAR]
    influx-v2+http://127.0.0.1:8428?bucket=simpul&org=dinas   [&token_env=VAR]

Credentials are named by environment variable, never written in the URL.
"""

from __future__ import annotations

import base64
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from simpul.errors import ConfigError
from simpul.secrets import read_secret_env

from .outbox import Sink, SinkError

log = logging.getLogger(__name__)


def _classify_http(name: str, status: int, body: str) -> SinkError:
    # 400 = the points are malformed / type conflict: retrying the same bytes cannot succeed.
    # 401/403/404/5xx: configuration or server trouble that an operator can fix: keep the data.
    permanent = status == 400
    return SinkError(name, f"HTTP {status}: {body.strip()[:300]}", permanent=permanent)


@dataclass
class InfluxV1Sink:
    """InfluxDB 1.x line-protocol writes; optionally creates the database once."""

    url: str
    db: str
    rp: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    timeout: float = 10.0
    create_db: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        if not self.name:
            self.name = f"influx-v1:{self.url}/{self.db}"
        self._created = False

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "text/plain; charset=utf-8"}
        if self.user and self.password:
            tok = f"{self.user}:{self.password.get_secret_value()}".encode()
            h["Authorization"] = "Basic " + base64.b64encode(tok).decode()
        return h

    def _post(self, path: str, params: dict[str, str], body: bytes) -> None:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, data=body, headers=self._headers(), method="POST")  # noqa: S310
        try:
            # the URL scheme was checked to be http(s) in sink_from_url
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310
                r.read()
        except urllib.error.HTTPError as e:
            raise _classify_http(self.name, e.code, e.read().decode(errors="replace")) from e
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise SinkError(self.name, f"unreachable: {reason}") from e

    def ensure_db(self) -> None:
        self._post("/query", {"q": f'CREATE DATABASE "{self.db}"'}, b"")
        self._created = True

    def write(self, lines: Sequence[str]) -> None:
        if self.create_db and not self._created:
            self.ensure_db()
        params = {"db": self.db, "precision": "s"}
        if self.rp:
            params["rp"] = self.rp
        self._post("/write", params, "\n".join(lines).encode())


class InfluxV2Sink:
    """The influxdb-client v2 write API (synchronous, precision seconds)."""

    def __init__(
        self,
        url: str,
        bucket: str,
        org: str = "simpul",
        token: SecretStr | None = None,
        timeout: float = 10.0,
        name: str = "",
    ) -> None:
        from influxdb_client import InfluxDBClient  # type: ignore[attr-defined]
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = url.rstrip("/")
        self.bucket = bucket
        self.org = org
        self.name = name or f"influx-v2:{self.url}/{bucket}"
        self._client = InfluxDBClient(
            url=self.url,
            token=token.get_secret_value() if token else "",
            org=org,
            timeout=int(timeout * 1000),
            retries=False,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str]) -> None:
        from influxdb_client.client.write_api import WritePrecision  # type: ignore[attr-defined]
        from influxdb_client.rest import ApiException

        try:
            self._api.write(
                bucket=self.bucket,
                org=self.org,
                record=list(lines),
                # the package types its own constant WritePrecision.S as str
                write_precision=WritePrecision.S,  # type: ignore[arg-type]
            )
        except ApiException as e:
            raise _classify_http(self.name, int(e.status or 0), str(e.body or e.reason)) from e
        except Exception as e:  # urllib3 connection errors and the like, wrapped at this edge
            raise SinkError(self.name, f"unreachable: {type(e).__name__}: {e}") from e

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _secret_from(q: dict[str, list[str]], key: str, what: str) -> SecretStr | None:
    var = q.get(key, [None])[0]
    return read_secret_env(var, what) if var else None


def sink_from_url(url: str) -> Sink:
    """Build a sink from ``influx-v1+http://…?db=…`` or ``influx-v2+http://…?bucket=…``."""
    scheme, sep, rest = url.partition("+")
    if not sep:
        raise ConfigError(f"sink '{url}': expected influx-v1+http://... or influx-v2+http://...")
    parsed = urllib.parse.urlsplit(rest)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"sink '{url}': the part after '+' must be an http(s) URL")
    q = urllib.parse.parse_qs(parsed.query)
    base = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    if scheme == "influx-v1":
        if "db" not in q:
            raise ConfigError(f"sink '{url}': add ?db=<database>")
        return InfluxV1Sink(
            url=base,
            db=q["db"][0],
            rp=q.get("rp", [None])[0],
            user=q.get("user", [None])[0],
            password=_secret_from(q, "password_env", "influx password"),
            name=f"influx-v1:{base}/{q['db'][0]}",
        )
    if scheme == "influx-v2":
        if "bucket" not in q:
            raise ConfigError(f"sink '{url}': add ?bucket=<bucket>")
        return InfluxV2Sink(
            url=base,
            bucket=q["bucket"][0],
            org=q.get("org", ["simpul"])[0],
            token=_secret_from(q, "token_env", "influx token"),
            name=f"influx-v2:{base}/{q['bucket'][0]}",
        )
    raise ConfigError(f"sink '{url}': unknown kind '{scheme}' (influx-v1 or influx-v2)")


def sinks_from_env() -> list[str]:
    """``SIMPUL_SINKS`` (space separated sink URLs), for cron/systemd units."""
    return os.environ.get("SIMPUL_SINKS", "").split()
