"""RTO, RPO and divergence of a failover drill, from the client's write log (pure).

The client (:mod:`simpul.drc.loadgen`) logs every acknowledged write with its sequence number,
the server that acknowledged it and when; after the drill the rows that survived on the final
primary are read back. From those two lists alone:

- **RTO** (per takeover): from the injection to the first write acknowledged by the *new*
  primary, as the client saw it;
- **write pause**: the longest time without any acknowledged write around the event (also for a
  partition, where no takeover is expected);
- **RPO**: acknowledged writes missing on the final primary — in rows, and in milliseconds (from
  the newest surviving write before the first lost one to the newest lost write);
- **divergence**: writes acknowledged by the old primary *after* the new primary had acknowledged
  one — two primaries accepting writes at the same time (split brain).

Pergub Jambi 12/2022 Pasal 23(2)(e): the contingency plan is tested regularly — with numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any


@dataclass(frozen=True)
class Ack:
    seq: int
    node: str
    t: float  # when the client got the acknowledgement (epoch seconds)
    t0: float = 0.0  # when the client sent the write


@dataclass
class Takeover:
    """One leadership change seen by the client."""

    label: str  # "takeover", "failback"
    t_inject: float
    old: str
    new: str | None
    t_first_new: float | None
    rto_s: float | None
    pause_s: float | None
    divergent: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DrillMetrics:
    acks: int
    errors: int
    acks_by_node: dict[str, int]
    takeovers: list[Takeover]
    lost: list[int]
    rpo_rows: int
    rpo_ms: float
    divergent: list[int]
    committed_unacked: int
    max_pause_s: float
    first_ack: float | None
    last_ack: float | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["takeovers"] = [t.to_dict() for t in self.takeovers]
        return d


def parse_events(lines: Iterable[str | Mapping[str, Any]]) -> tuple[list[Ack], list[dict[str, Any]]]:
    """Acks and all other events from the client's JSON lines (bad lines are skipped)."""
    import json

    acks: list[Ack] = []
    other: list[dict[str, Any]] = []
    for line in lines:
        if isinstance(line, Mapping):
            ev: dict[str, Any] = dict(line)
        else:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
        if not isinstance(ev, dict):
            continue
        if ev.get("ev") == "ack" and isinstance(ev.get("seq"), int):
            acks.append(Ack(int(ev["seq"]), str(ev.get("node")), float(ev["t"]), float(ev.get("t0", 0))))
        else:
            other.append(ev)
    acks.sort(key=lambda a: a.t)
    return acks, other


def takeover(acks: Sequence[Ack], t_inject: float, old: str, label: str = "takeover",
             until: float | None = None) -> Takeover:
    """The client's view of a leadership change injected at ``t_inject`` away from ``old``.

    ``until`` bounds the window (the next event); writes acknowledged by ``old`` after the new
    primary's first acknowledgement are divergent."""
    window = [a for a in acks if a.t >= t_inject and (until is None or a.t < until)]
    first_new = next((a for a in window if a.node != old), None)
    before = [a.t for a in acks if a.t < t_inject]
    after = [a.t for a in window]
    pause = None
    if after:
        start = before[-1] if before else t_inject
        pause = max(b - a for a, b in zip([start, *after[:-1]], after, strict=True))
    div = [a.seq for a in window if first_new is not None and a.node == old and a.t > first_new.t]
    return Takeover(label=label, t_inject=t_inject, old=old,
                    new=first_new.node if first_new else None,
                    t_first_new=first_new.t if first_new else None,
                    rto_s=round(first_new.t - t_inject, 3) if first_new else None,
                    pause_s=round(pause, 3) if pause is not None else None, divergent=div)


def rpo(acks: Sequence[Ack], surviving: Iterable[int]) -> tuple[list[int], float]:
    """Acknowledged writes missing on the final primary: (their sequence numbers, window in ms).

    The window runs from the newest *surviving* write acknowledged before the first lost one to
    the newest lost write: the stretch of acknowledged data that is gone."""
    keep = set(surviving)
    lost = [a for a in acks if a.seq not in keep]
    if not lost:
        return [], 0.0
    first_lost = min(a.t for a in lost)
    prior = [a.t for a in acks if a.seq in keep and a.t < first_lost]
    start = max(prior) if prior else first_lost
    return sorted(a.seq for a in lost), round((max(a.t for a in lost) - start) * 1000, 1)


def longest_pause(acks: Sequence[Ack]) -> float:
    ts = [a.t for a in acks]
    return round(max((b - a for a, b in pairwise(ts)), default=0.0), 3)


def metrics(acks: Sequence[Ack], events: Sequence[Mapping[str, Any]], surviving: Mapping[int, str],
            injections: Sequence[tuple[str, float, str]]) -> DrillMetrics:
    """All figures of one drill.

    ``surviving`` maps the sequence numbers found on the final primary to the node that wrote
    them; ``injections`` are ``(label, time, old leader)`` in time order (the takeover, then
    the failback if any).
    """
    tks: list[Takeover] = []
    for i, (label, t, old) in enumerate(injections):
        nxt = injections[i + 1][1] if i + 1 < len(injections) else None
        tks.append(takeover(acks, t, old, label, nxt))
    lost, rpo_ms = rpo(acks, surviving.keys())
    acked = {a.seq for a in acks}
    by_node: dict[str, int] = {}
    for a in acks:
        by_node[a.node] = by_node.get(a.node, 0) + 1
    return DrillMetrics(
        acks=len(acks), errors=sum(1 for e in events if e.get("ev") == "err"),
        acks_by_node=by_node, takeovers=tks, lost=lost, rpo_rows=len(lost), rpo_ms=rpo_ms,
        divergent=sorted({s for t in tks for s in t.divergent}),
        committed_unacked=sum(1 for s in surviving if s not in acked),
        max_pause_s=longest_pause(acks), first_ack=acks[0].t if acks else None,
        last_ack=acks[-1].t if acks else None)


# --- verdicts ---------------------------------------------------------------------------------


@dataclass
class Check:
    id: str
    ok: bool
    id_text: str  # Bahasa Indonesia
    en_text: str
    value: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict(scenario: str, m: DrillMetrics, *, rto_target_s: float, rpo_target_s: float,
            sync: bool, vip_both_s: float, vip_tolerance_s: float, writable_both_s: float,
            isolated_demoted_s: float | None, expect_takeover: bool, failback_done: bool,
            failback_asked: bool) -> list[Check]:
    """Pass/fail checks of a drill against the service's targets (and RPO 0 when synchronous).

    Whatever the scenario, the safety properties hold or the drill fails: no acknowledged write
    lost beyond the RPO, none divergent, never two servers accepting writes, never the service
    address on two sites. A partition is not required to cause a takeover — the side that keeps
    the etcd majority (with the witness) keeps or takes the service, the other side must not.
    """
    out: list[Check] = []
    tk = next((t for t in m.takeovers if t.label in ("takeover", "failback")), None)
    if expect_takeover:
        ok = tk is not None and tk.rto_s is not None and tk.rto_s <= rto_target_s
        out.append(Check("rto", ok, f"RTO ≤ target {rto_target_s:g} s", f"RTO ≤ target {rto_target_s:g} s",
                         f"{tk.rto_s:.2f} s" if tk and tk.rto_s is not None
                         else "tidak ada pengambilalihan / no takeover"))
    rpo_ok = m.rpo_rows == 0 if sync else m.rpo_ms / 1000 <= rpo_target_s
    tgt = "0 (sinkron / synchronous)" if sync else f"{rpo_target_s:g} s"
    out.append(Check("rpo", rpo_ok, f"RPO ≤ target {tgt}", f"RPO ≤ target {tgt}",
                     f"{m.rpo_rows} baris/rows, {m.rpo_ms:.0f} ms"))
    out.append(Check("divergence", not m.divergent, "Tidak ada penulisan ganda (divergensi)",
                     "No divergent writes (split brain)", f"{len(m.divergent)}"))
    out.append(Check("single-writer", writable_both_s <= 0,
                     "Tidak pernah dua server menerima penulisan sekaligus",
                     "Never two servers accepting writes at once",
                     f"tumpang tindih / overlap {writable_both_s:.2f} s"))
    out.append(Check("vip", vip_both_s <= vip_tolerance_s,
                     f"Alamat layanan tidak tinggal di dua situs (≤ {vip_tolerance_s:g} s saat berpindah)",
                     f"Service address does not stay on both sites (≤ {vip_tolerance_s:g} s while moving)",
                     f"{vip_both_s:.2f} s"))
    if scenario == "site-loss":
        out.append(Check("isolated", isolated_demoted_s is not None,
                         "Primer yang terisolasi berhenti menerima penulisan (read-only)",
                         "The isolated primary stopped accepting writes (read-only)",
                         f"{isolated_demoted_s:.1f} s" if isolated_demoted_s is not None else "tidak / no"))
    if failback_asked:
        fb = next((t for t in m.takeovers if t.label == "failback"), None)
        if fb is None:  # the leader was already home: nothing to switch
            ok, value = failback_done, ("sudah di primer asal / already on the home primary"
                                        if failback_done else "tidak / no")
        else:
            ok = failback_done and fb.rto_s is not None and fb.rto_s <= rto_target_s
            value = f"RTO {fb.rto_s:.2f} s" if fb.rto_s is not None else "tidak / no"
        out.append(Check("failback", ok, "Kembali ke Pusat Data (failback)", "Failback to the Pusat Data",
                         value))
    return out


def findings(scenario: str, m: DrillMetrics, *, old: str | None, sync: bool,
             isolated_stopped_s: float | None, ttl: int) -> list[tuple[str, str]]:
    """What happened, in one sentence each (Bahasa Indonesia, English) for the Berita Acara."""
    out: list[tuple[str, str]] = []
    tk = next((t for t in m.takeovers if t.label == "takeover"), None)
    if tk is not None and tk.new is not None:
        out.append((f"{tk.new} mengambil alih dari {tk.old}: tulis pertama diakui {tk.rto_s:.2f} s "
                    f"setelah injeksi; jeda tulis {tk.pause_s:.2f} s.",
                    f"{tk.new} took over from {tk.old}: first write acknowledged {tk.rto_s:.2f} s after "
                    f"the injection; writes paused {tk.pause_s:.2f} s."))
    elif tk is not None and scenario == "partition":
        out.append((f"{old} tetap memegang kunci leader melalui saksi (mayoritas etcd); DRC tidak "
                    f"mempromosikan diri. Tulis berhenti {tk.pause_s or 0:.2f} s"
                    + (" selama replikasi sinkron menunggu DRC, lalu berlanjut di Pusat Data."
                       if sync else "."),
                    f"{old} kept the leader key through the witness (etcd majority); the DRC did not "
                    f"promote itself. Writes paused {tk.pause_s or 0:.2f} s"
                    + (" while synchronous replication waited for the DRC, then went on at the "
                       "Pusat Data." if sync else ".")))
    if isolated_stopped_s is not None:
        out.append((f"Primer lama yang terisolasi ({old}) berhenti menerima tulis {isolated_stopped_s:.1f} s "
                    f"setelah terputus — sebelum kuncinya kedaluwarsa (ttl {ttl} s), jadi tidak pernah "
                    "ada dua primer.",
                    f"The isolated old primary ({old}) stopped accepting writes {isolated_stopped_s:.1f} s "
                    f"after it was cut off — before its key expired (ttl {ttl} s), so there were never "
                    "two primaries."))
    if m.rpo_rows == 0:
        out.append((f"Semua {m.acks} tulis yang diakui ada di primer akhir (RPO 0).",
                    f"All {m.acks} acknowledged writes are on the final primary (RPO 0)."))
    else:
        out.append((f"{m.rpo_rows} tulis yang diakui hilang ({m.rpo_ms:.0f} ms data).",
                    f"{m.rpo_rows} acknowledged writes were lost ({m.rpo_ms:.0f} ms of data)."))
    if m.committed_unacked:
        out.append((f"{m.committed_unacked} tulis tanpa konfirmasi tetap tersimpan (klien menyerah "
                    "sebelum jawaban datang) — bukan kehilangan data.",
                    f"{m.committed_unacked} unacknowledged writes were committed anyway (the client "
                    "gave up before the answer) — not a loss."))
    return out
