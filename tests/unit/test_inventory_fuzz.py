"""Fuzz the loader: whatever bytes or YAML a user writes, the answer is a list of problems or
a valid inventory — never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpul.errors import ConfigError
from simpul.inventory import InventoryInvalid, load_inventory

LAB = Path(__file__).resolve().parents[2] / "inventory" / "lab"

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.dates()
)
yaml_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
SECTIONS = [
    "organisation",
    "plan",
    "sites",
    "devices",
    "servers",
    "links",
    "services",
    "backup_policies",
    "secrets",
    "groups",
    "defaults",
    "bogus",
]


def _load_or_problems(directory: Path) -> None:
    try:
        load_inventory(directory)
    except InventoryInvalid as e:
        assert e.problems, "an invalid inventory must say what is wrong"
        for p in e.problems:
            assert p.file and p.message
    except ConfigError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(max_size=400))
def test_random_bytes_never_crash(tmp_path_factory, data: bytes) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("fz")
    (d / "x.yaml").write_bytes(data)
    _load_or_problems(d)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(section=st.sampled_from(SECTIONS), value=yaml_values)
def test_random_sections_merged_into_lab_never_crash(tmp_path_factory, section: str, value: object) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("fz")
    shutil.copytree(LAB, d / "inv")
    (d / "inv" / "zz-fuzz.yaml").write_text(yaml.safe_dump({section: value}))
    _load_or_problems(d / "inv")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    name=st.sampled_from(["core-1", "pd-web", "desa-kemloko"]),
    key=st.text(min_size=1, max_size=15),
    value=yaml_values,
)
def test_random_host_keys_never_crash(tmp_path_factory, name: str, key: str, value: object) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("fz")
    shutil.copytree(LAB, d / "inv")
    section = "servers" if name.startswith("pd-") else "devices"
    # override one host completely with a fuzzed body in another file: a duplicate definition
    # plus arbitrary content
    (d / "inv" / "zz-fuzz.yaml").write_text(yaml.safe_dump({section: {name + "-x": {key: value}}}))
    _load_or_problems(d / "inv")


# --- reported, never dropped (issue 9 #4) ---------------------------------------------------
# Put a secret-shaped key, or free text, anywhere in any section of the lab inventory: the load
# either keeps every entity, or reports a problem naming each entity it left out — and an inline
# secret is always reported where it was written.

ALL_SECTIONS = ["organisation", "plan", "defaults", "secrets", "sites", "groups", "devices", "links",
                "servers", "admins", "services", "backup_policies"]
SECRET_KEYS = ["password", "passwd", "pass", "secret", "token", "api_key", "apikey", "value",
               "community_string", "psk", "private_key"]
# (no lone surrogates: a YAML file cannot hold them, so they never reach the loader)
free_text = st.text(
    alphabet=st.sampled_from(list("ab =,\"'\\\n\r\t:#{}[]-é€\u200b🙂"))
    | st.characters(blacklist_categories=("Cs",)),
    min_size=1, max_size=30)
secret_values = st.one_of(free_text, st.integers(), st.lists(free_text, min_size=1, max_size=3),
                          st.dictionaries(st.sampled_from(["a", "v"]), free_text, min_size=1))


def _raw_lab() -> dict[str, dict[str, object]]:
    return {f.name: yaml.safe_load(f.read_text()) for f in sorted(LAB.glob("*.yaml"))}


def _pick(data: st.DataObject, raw: dict[str, dict[str, object]]) -> tuple[dict[str, object], tuple[object, ...]]:
    """A random mapping somewhere in a random section (an entity or something inside it)."""
    section = data.draw(st.sampled_from(ALL_SECTIONS), label="section")
    body = next(f[section] for f in raw.values() if section in f)
    path: tuple[object, ...] = (section,)
    node: dict[str, object] = body  # type: ignore[assignment]
    if section not in ("organisation", "plan", "defaults"):
        name = data.draw(st.sampled_from(sorted(body)), label="entity")
        node, path = body[name], (section, name)  # type: ignore[assignment]
    for _ in range(data.draw(st.integers(0, 2), label="depth")):
        inner: list[tuple[object, dict[str, object]]] = []
        for k, v in node.items():
            if isinstance(v, dict):
                inner.append((k, v))
            elif isinstance(v, list):
                inner += [((k, i), x) for i, x in enumerate(v) if isinstance(x, dict)]
        if not inner:
            break
        k, node = data.draw(st.sampled_from(inner), label="into")
        path = (*path, *(k if isinstance(k, tuple) else (k,)))
    return node, path


def _dotted(path: tuple[object, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _assert_reported_never_dropped(d: Path, raw: dict[str, dict[str, object]]) -> list[str]:
    """Load ``d``; every entity of ``raw`` is in the result or named by a problem — its own, or
    one saying that the file it is written in cannot be read at all."""
    paths: list[str] = []
    unreadable: set[str] = set()
    try:
        inv = load_inventory(d)
        problems: list[str] = []
    except InventoryInvalid as e:
        problems = [str(p) for p in e.problems]
        inv = e.partial  # type: ignore[assignment]
        paths = [p.path for p in e.problems]
        unreadable = {Path(p.file).name for p in e.problems if not p.path and p.line >= 0}
        if inv is None:  # organisation or plan itself failed: they must be named
            where = {f for f, c in raw.items() if "organisation" in c or "plan" in c}
            assert any(p.split(".")[0].split("[")[0] in ("organisation", "plan") for p in paths) \
                or where & unreadable, problems
            return problems
    for section in ALL_SECTIONS:
        if section in ("organisation", "plan", "defaults"):
            continue
        for fname, content in raw.items():
            for name in map(str, content.get(section) or {}):
                if name in getattr(inv, section) or fname in unreadable:
                    continue
                prefix = f"{section}.{name}"
                assert any(p == prefix or p.startswith((prefix + ".", prefix + "[")) for p in paths), \
                    f"{prefix} dropped without a problem: {problems}"
    return problems


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), key=st.sampled_from(SECRET_KEYS), case=st.sampled_from([str.lower, str.upper, str.title]),
       value=secret_values)
def test_inline_secret_anywhere_is_reported_and_nothing_is_dropped(  # type: ignore[no-untyped-def]
    tmp_path_factory, data: st.DataObject, key: str, case: object, value: object
) -> None:
    raw = _raw_lab()
    node, path = _pick(data, raw)
    key = case(key)  # type: ignore[operator]
    node[key] = value
    d = tmp_path_factory.mktemp("fz")
    for name, content in raw.items():
        (d / name).write_text(yaml.safe_dump(content, allow_unicode=True))
    problems = _assert_reported_never_dropped(d, raw)
    where = _dotted((*path, key))
    assert any(f" {where}: looks like a secret written inline" in p for p in problems), (where, problems)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), text=free_text, new_key=st.booleans())
def test_free_text_anywhere_is_kept_or_reported(  # type: ignore[no-untyped-def]
    tmp_path_factory, data: st.DataObject, text: str, new_key: bool
) -> None:
    raw = _raw_lab()
    node, _path = _pick(data, raw)
    strings = sorted(k for k, v in node.items() if isinstance(v, str))
    if new_key or not strings:
        node[data.draw(free_text, label="key")] = text
    else:
        node[data.draw(st.sampled_from(strings), label="key")] = text
    d = tmp_path_factory.mktemp("fz")
    for name, content in raw.items():
        (d / name).write_text(yaml.safe_dump(content, allow_unicode=True))
    _assert_reported_never_dropped(d, raw)


def test_the_issue_examples_are_reported(lab_copy: Path) -> None:
    # services.portal.password (an existing entity), a site with an inline secret, a secrets:
    # entry with an extra key: each used to vanish while 'inventory check' said "valid".
    p = lab_copy / "servers.yaml"
    old = "    name: Portal Resmi Kabupaten\n"
    assert old in p.read_text()
    p.write_text(p.read_text().replace(old, old + "    password: hunter2\n", 1))
    (lab_copy / "zz-extra.yaml").write_text(
        "sites:\n  drc-2: {type: drc, name: DRC Dua, token: abc}\n"
        "secrets:\n  extra-one: {env: EXTRA_ONE, value: s3cr3t}\n")
    with pytest.raises(InventoryInvalid) as ei:
        load_inventory(lab_copy)
    got = {p.path for p in ei.value.problems if "secret written inline" in p.message}
    assert got == {"services.portal.password", "sites.drc-2.token", "secrets.extra-one.value"}
