"""Fuzz the loader: whatever bytes or YAML a user writes, the answer is a list of problems or
a valid inventory — never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_random_bytes_never_crash(tmp_path_factory, data: bytes) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("fz")
    (d / "x.yaml").write_bytes(data)
    _load_or_problems(d)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(section=st.sampled_from(SECTIONS), value=yaml_values)
def test_random_sections_merged_into_lab_never_crash(tmp_path_factory, section: str, value: object) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("fz")
    shutil.copytree(LAB, d / "inv")
    (d / "inv" / "zz-fuzz.yaml").write_text(yaml.safe_dump({section: value}))
    _load_or_problems(d / "inv")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
