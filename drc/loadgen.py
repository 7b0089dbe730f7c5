"""The failover drill's client: numbered writes through the service address, every outcome logged.

This file runs **on the drill client** (a server at the NOC, ``standby.drill_client``) with the
server's own ``python3`` and ``python3-psycopg2`` — standard library and psycopg2 only, no
Simpul imports. :mod:`simpul.drc.failover` sends it over SSH and reads its output.

Protocol: the first line on stdin is a JSON object (host, port, dbname, user, password, run_id,
interval_ms, connect_timeout, query_timeout, max_seconds); the password never appears on a
command line. Every write carries a sequence number; each outcome is one JSON line on stdout:

- ``{"ev": "ack", "seq": 17, "node": "pd-db", "t0": ..., "t": ...}`` — the INSERT committed and
  the commit was acknowledged to the client at ``t`` by the server named ``node`` (the server's
  ``simpul.node`` setting, so the address the client used does not matter);
- ``{"ev": "err", "seq": 18, "t": ..., "kind": "connect|query|timeout", "sent": true, ...}`` —
  no acknowledgement (``sent``: the statement may or may not have committed);
- ``{"ev": "conn", "t": ..., "node": ...}`` on every new connection, ``{"ev": "end", ...}`` last.

A line ``stop`` on stdin (or EOF, or ``max_seconds``) ends the load. Timeouts are the client's
own: libpq connects with ``connect_timeout`` (its minimum is 2 s), ``tcp_user_timeout`` and
keepalives notice a dead peer, and a statement that does not answer within ``query_timeout`` is
abandoned by closing the socket — never cancelled, because a cancelled wait for synchronous
replication still commits locally and would be reported to the application as a success.
"""

from __future__ import annotations

import contextlib
import json
import select
import sys
import threading
import time
from typing import Any

try:
    import psycopg2
    import psycopg2.extensions
    HAVE_PSYCOPG2 = True
except ImportError:  # pragma: no cover - the drill's pre-check says what to install
    HAVE_PSYCOPG2 = False

SQL_TABLE = ("CREATE TABLE IF NOT EXISTS drill_writes (run_id text NOT NULL, seq bigint NOT NULL, "
             "node text NOT NULL, client_t double precision, server_ts timestamptz DEFAULT now(), "
             "PRIMARY KEY (run_id, seq))")
SQL_WRITE = ("INSERT INTO drill_writes (run_id, seq, node, client_t) "
             "VALUES (%s, %s, current_setting('simpul.node'), %s) RETURNING node")
SQL_READ = "SELECT current_setting('simpul.node'), count(*) FROM drill_writes WHERE run_id = %s"


class Timeout(Exception):
    pass


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def wait(conn: Any, deadline: float) -> None:
    """Drive an asynchronous psycopg2 connection until it is ready or ``deadline`` passes."""
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], left)
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], left)
        else:  # pragma: no cover
            raise psycopg2.OperationalError(f"bad poll state {state}")


def connect(cfg: dict[str, Any]) -> Any:
    conn = psycopg2.connect(
        host=cfg["host"], port=cfg["port"], dbname=cfg["dbname"], user=cfg["user"],
        password=cfg["password"], connect_timeout=cfg.get("connect_timeout", 2),
        target_session_attrs="read-write", application_name="simpul-drill",
        keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2,
        tcp_user_timeout=int(cfg.get("tcp_user_timeout_ms", 2000)), async_=1)
    try:
        wait(conn, time.monotonic() + float(cfg.get("connect_timeout", 2)) + 1)
    except BaseException:
        conn.close()
        raise
    return conn


def run_sql(conn: Any, sql: str, args: tuple[Any, ...], timeout: float) -> Any:
    cur = conn.cursor()
    cur.execute(sql, args)
    wait(conn, time.monotonic() + timeout)
    return cur.fetchone() if cur.description else None


def main() -> int:
    if not HAVE_PSYCOPG2:
        emit({"ev": "fatal", "msg": "python3-psycopg2 is not installed on the drill client"})
        return 2
    cfg = json.loads(sys.stdin.readline())
    stop = threading.Event()

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    interval = float(cfg.get("interval_ms", 20)) / 1000
    qtimeout = float(cfg.get("query_timeout", 5))
    end_at = time.monotonic() + float(cfg.get("max_seconds", 900))
    run_id = cfg["run_id"]
    conn = None
    seq = 0
    emit({"ev": "start", "t": time.time(), "run_id": run_id})
    while not stop.is_set() and time.monotonic() < end_at:
        t_loop = time.monotonic()
        if conn is None:
            try:
                conn = connect(cfg)
                node = run_sql(conn, "SELECT current_setting('simpul.node')", (), qtimeout)[0]
                emit({"ev": "conn", "t": time.time(), "node": node})
            except Timeout:
                emit({"ev": "err", "seq": None, "t": time.time(), "kind": "connect",
                      "msg": "connect timeout", "sent": False})
                conn = None
            except psycopg2.Error as e:
                emit({"ev": "err", "seq": None, "t": time.time(), "kind": "connect",
                      "msg": str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__,
                      "sent": False})
                conn = None
            if conn is None:
                time.sleep(0.05)
                continue
        seq += 1
        t0 = time.time()
        try:
            row = run_sql(conn, SQL_WRITE, (run_id, seq, t0), qtimeout)
            emit({"ev": "ack", "seq": seq, "node": row[0], "t0": t0, "t": time.time()})
            if seq % 25 == 0:  # a read now and then: the service also answers queries
                r = run_sql(conn, SQL_READ, (run_id,), qtimeout)
                emit({"ev": "read", "t": time.time(), "node": r[0], "rows": r[1]})
        except Timeout:
            emit({"ev": "err", "seq": seq, "t": time.time(), "kind": "timeout",
                  "msg": f"no answer within {qtimeout:g} s", "sent": True})
            conn.close()
            conn = None
        except psycopg2.Error as e:
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            emit({"ev": "err", "seq": seq, "t": time.time(), "kind": "query", "msg": msg,
                  "sent": True})
            with contextlib.suppress(psycopg2.Error):
                conn.close()
            conn = None
        rest = interval - (time.monotonic() - t_loop)
        if rest > 0:
            time.sleep(rest)
    if conn is not None:
        conn.close()
    emit({"ev": "end", "t": time.time(), "last_seq": seq})
    return 0


if __name__ == "__main__":
    sys.exit(main())
