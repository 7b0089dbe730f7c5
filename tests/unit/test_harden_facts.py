"""Every hardening control's audit logic and every fact of ``deploys/ops.py``, replayed offline
from fixtures recorded on real lab servers (pyinfra style: recorded command output → parsed
fact → check verdict). See ``tests/support/hardening_fixtures.py`` for the format and
``tests/support/factrec.py`` for recording them again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from support.hardening_fixtures import FACTS_DIR, check_fixtures, fact_fixtures, load, replay_ctx

from simpul.deploys import ops
from simpul.deploys.catalog import CONTROLS
from simpul.deploys.checks import CHECKS

CHECK_FIXTURES = check_fixtures()
FACT_FIXTURES = fact_fixtures()
FACTS = ("FileState", "FileText", "ReadState", "ServiceState", "BootStart")


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}"


@pytest.mark.parametrize("path", CHECK_FIXTURES, ids=_id)
def test_check_gives_the_recorded_verdict(path: Path) -> None:
    fx = load(path)
    assert fx["subject"] == path.parent.name and fx["case"] == path.stem and fx["kind"] == "check"
    assert fx["origin"].startswith(("recorded: ", "hand-edited: ")), "say where the fixture came from"
    ctx, asked = replay_ctx(fx)
    passed, detail = CHECKS[fx["subject"]](ctx)
    assert (passed, detail) == (fx["expect"]["passed"], fx["expect"]["detail"])
    # nothing recorded in vain: the fixture holds exactly what the check reads
    assert {c["cmd"] for c in fx["commands"]} == set(asked)


@pytest.mark.parametrize("path", FACT_FIXTURES, ids=_id)
def test_fact_parses_the_recorded_output(path: Path) -> None:
    fx = load(path)
    assert fx["subject"] == path.parent.name and fx["kind"] == "fact" and fx["subject"] in FACTS
    assert fx["origin"].startswith(("recorded: ", "hand-edited: "))
    fact = getattr(ops, fx["subject"])()
    assert str(fact.command(**fx["args"])) == fx["command"], "the fact's command changed: record again"
    assert json.loads(json.dumps(fact.process(fx["output"]))) == fx["value"]


def test_every_control_has_a_failing_and_a_passing_fixture() -> None:
    verdicts: dict[str, set[bool]] = defaultdict(set)
    for p in CHECK_FIXTURES:
        verdicts[p.parent.name].add(bool(load(p)["expect"]["passed"]))
    missing = [c.id for c in CONTROLS if not verdicts.get(c.id)]
    assert not missing, f"controls without a fixture: {missing}"
    one_sided = {c.id: sorted(verdicts[c.id]) for c in CONTROLS if verdicts[c.id] != {True, False}}
    assert not one_sided, f"controls without both a passing and a failing fixture: {one_sided}"
    assert set(verdicts) <= {c.id for c in CONTROLS}, "a fixture names an unknown control"


def test_every_family_has_failing_and_passing_fixtures() -> None:
    family = {c.id: c.family for c in CONTROLS}
    seen: dict[str, set[bool]] = defaultdict(set)
    for p in CHECK_FIXTURES:
        seen[family[p.parent.name]].add(bool(load(p)["expect"]["passed"]))
    assert {f: v for f, v in seen.items() if v != {True, False}} == {}
    assert set(seen) == set(family.values())


def test_every_fact_has_fixtures() -> None:
    assert {p.parent.name for p in FACT_FIXTURES} == set(FACTS)
    assert FACTS_DIR.is_dir()


def test_a_check_that_runs_an_unrecorded_command_fails_the_replay() -> None:
    """The replay cannot pass by accident: an unknown command is an error, not empty output."""
    from support.hardening_fixtures import StaleFixture

    fx = load(CHECK_FIXTURES[0])
    fx["commands"] = []
    ctx, _ = replay_ctx(fx)
    with pytest.raises(StaleFixture, match="did not record"):
        CHECKS[fx["subject"]](ctx)
