"""The router device helper's own logic (lab/router_helper.py), without a router: several verbs
in one call, and ``confirm-if`` confirming only a post-check that passed. The helper on real lab
routers is exercised by tests/lab/test_net_lab.py."""

from __future__ import annotations

import json

import pytest

from simpul.lab import router_helper as rh


@pytest.fixture
def fake_router(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    calls: dict[str, list[object]] = {"confirm": []}
    monkeypatch.setattr(rh, "own_namespace", lambda: "slab-r-desa-x")
    monkeypatch.setattr(rh, "acl_show", lambda: {"table": "simpul_mgmt", "present": True,
                                                 "admit": ["169.254.100.0/24"]})
    monkeypatch.setattr(rh, "confirm", lambda ns, cid, session: calls["confirm"].append((ns, cid, session)))
    return calls


def test_several_verbs_in_one_call_answer_a_json_list(fake_router: object, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(rh, "_reachable", lambda addr, src: addr == "10.199.255.1")
    assert rh.main(["--session", "169.254.100.1 5000 169.254.100.31 22", "acl-show", "+",
                    "ping", "10.199.255.1", "10.199.255.21", "+", "ping", "10.199.255.9"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == [{"table": "simpul_mgmt", "present": True, "admit": ["169.254.100.0/24"]},
                   {"address": "10.199.255.1", "reachable": True},
                   {"address": "10.199.255.9", "reachable": False}]


def test_an_unknown_verb_in_a_batch_is_a_usage_error(fake_router: object,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert rh.main(["--session", "s", "acl-show", "+", "format-disk"]) == 2
    assert "unknown verb or wrong arguments: format-disk" in capsys.readouterr().err


def test_confirm_if_confirms_only_a_passed_post_check(fake_router: dict[str, list[object]],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rh, "_full_neighbors", lambda ns: {"10.199.255.1"})
    monkeypatch.setattr(rh, "_reachable", lambda addr, src: True)
    ok = rh.confirm_if("slab-r-desa-x", "s2", "cid", 0, ["10.199.255.1"], ["10.199.255.1/10.199.255.21"])
    assert ok == {"confirmed": True, "missing": [], "unreachable": []}
    assert fake_router["confirm"] == [("slab-r-desa-x", "cid", "s2")]
    # a neighbour that did not come back: nothing pinged, nothing confirmed
    monkeypatch.setattr(rh, "_full_neighbors", lambda ns: set())
    bad = rh.confirm_if("slab-r-desa-x", "s2", "cid", 0, ["10.199.255.1"], ["10.199.255.1/10.199.255.21"])
    assert bad == {"confirmed": False, "missing": ["10.199.255.1"], "unreachable": []}
    # the Pusat Data silent: not confirmed
    monkeypatch.setattr(rh, "_full_neighbors", lambda ns: {"10.199.255.1"})
    monkeypatch.setattr(rh, "_reachable", lambda addr, src: False)
    bad = rh.confirm_if("slab-r-desa-x", "s2", "cid", 0, [], ["10.199.255.1/10.199.255.21"])
    assert bad == {"confirmed": False, "missing": [], "unreachable": ["10.199.255.1"]}
    assert len(fake_router["confirm"]) == 1
