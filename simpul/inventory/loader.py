"""Load an inventory directory: every ``*.yaml`` below it, merged, inherited, validated.

Files may split sections freely: name-keyed sections (``sites``, ``devices``, ``servers``, ...)
are merged across files and a name defined twice is an error; ``organisation`` and ``plan``
appear once. Devices and servers inherit ``defaults`` → each of their ``groups`` (in order) →
their own keys, so 300 desa routers are not 300 copies.

All problems are collected and reported together (:class:`InventoryInvalid`), each with file,
line and key path.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simpul.errors import ConfigError
from simpul.inventory import models as m
from simpul.inventory.checks import cross_check
from simpul.inventory.hooks import run_checks
from simpul.inventory.source import KeyPath, Loaded, Origin, Problem, dotted, load_yaml

MAPPING_SECTIONS: dict[str, type[BaseModel]] = {
    "secrets": m.Secret,
    "sites": m.Site,
    "groups": m.Group,
    "devices": m.Device,
    "links": m.Link,
    "servers": m.Server,
    "admins": m.Admin,
    "services": m.Service,
    "backup_policies": m.BackupPolicy,
}
SINGLE_SECTIONS: dict[str, type[BaseModel]] = {
    "organisation": m.Organisation,
    "plan": m.Plan,
    "defaults": m.Defaults,
}
INHERITING = {"devices": "devices", "servers": "servers"}

# Keys that would hold a secret *value*. The schema never has them: secrets are referenced by
# name under ``secrets:`` (an environment variable or a 0600 file).
_INLINE_SECRET = re.compile(r"^(password|passwd|pass|secret|token|api_key|apikey|value|community_string|psk|private_key)$", re.I)
SECRET_REF_FIELDS = {"credential", "community", "auth_key", "priv_key", "key", "encryption_key"}


class InventoryInvalid(ConfigError):
    """The inventory has problems; ``problems`` lists every one of them."""

    def __init__(self, source: str, problems: list[Problem], partial: m.Inventory | None = None) -> None:
        n = len(problems)
        super().__init__(
            f"{source}: {n} problem{'s' if n != 1 else ''} in the inventory",
            hint="run 'simpul inventory check' to see them all",
        )
        self.problems = sorted(set(problems))
        # What did validate (unvalidated as a whole); every entity missing from it has a problem.
        self.partial = partial


def read_directory(directory: Path) -> Loaded:
    """Read and merge the YAML files of ``directory`` (no validation yet)."""
    out = Loaded()
    directory = Path(directory)
    if not directory.exists():
        raise ConfigError(f"{directory}: inventory directory does not exist",
                          hint="pass the inventory directory, e.g. inventory/lab")
    files = [directory] if directory.is_file() else sorted(
        p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
    )
    if not files:
        raise ConfigError(f"{directory}: no *.yaml files found",
                          hint="an inventory is a directory of YAML files; see inventory/README.md")
    base = directory if directory.is_dir() else directory.parent
    out.origins[()] = Origin(str(directory), 0)
    for f in files:
        display = str(f if not base else f.relative_to(base.parent) if base.parent != f else f)
        data, origins, problems = load_yaml(f, display)
        out.problems.extend(problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            out.problems.append(Problem(display, 1, "", "the top level must be a mapping of sections "
                                        "(organisation:, sites:, devices:, ...)"))
            continue
        for section, value in data.items():
            line = origins[(section,)].line
            if section in MAPPING_SECTIONS:
                if value is None:
                    continue
                if not isinstance(value, dict):
                    out.problems.append(Problem(display, line, section,
                                                "must be a mapping of name: {...}"))
                    continue
                target = out.data.setdefault(section, {})
                by_entity: dict[Any, list[tuple[KeyPath, Origin]]] = {}
                for k, o in origins.items():
                    if len(k) >= 2 and k[0] == section:
                        by_entity.setdefault(k[1], []).append((k, o))
                for name, body in value.items():
                    if name in target:
                        first = out.origins[(section, name)]
                        out.problems.append(Problem(
                            display, origins[(section, name)].line, f"{section}.{name}",
                            f"defined twice (first at {first.file}:{first.line})"))
                        continue
                    target[name] = body
                    out.origins.update(by_entity.get(name, []))
                out.origins.setdefault((section,), Origin(display, line))
            elif section in SINGLE_SECTIONS:
                if section in out.data:
                    first = out.origins[(section,)]
                    out.problems.append(Problem(display, line, section,
                                                f"defined twice (first at {first.file}:{first.line})"))
                    continue
                out.data[section] = value
                for k, o in origins.items():
                    if k[:1] == (section,):
                        out.origins[k] = o
            else:
                known = ", ".join([*SINGLE_SECTIONS, *MAPPING_SECTIONS])
                out.problems.append(Problem(display, line, section,
                                            f"unknown section (known: {known})"))
    return out


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    res = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(res.get(k), dict):
            res[k] = _deep_merge(res[k], v)
        else:
            res[k] = v
    return res


def _inherit(loaded: Loaded) -> None:
    """Apply defaults and group vars to devices and servers, keeping origins of inherited keys."""
    data = loaded.data
    defaults: dict[str, Any] = data["defaults"] if isinstance(data.get("defaults"), dict) else {}
    groups: dict[str, Any] = data["groups"] if isinstance(data.get("groups"), dict) else {}
    def suffixes(prefix: KeyPath) -> list[tuple[KeyPath, Origin]]:
        if prefix not in cache:
            n = len(prefix)
            cache[prefix] = [(k[n:], o) for k, o in loaded.origins.items()
                             if len(k) > n and k[:n] == prefix]
        return cache[prefix]

    cache: dict[KeyPath, list[tuple[KeyPath, Origin]]] = {}
    for section, dkey in INHERITING.items():
        entities = data.get(section)
        if not isinstance(entities, dict):
            continue
        dflt = defaults.get(dkey) if isinstance(defaults, dict) else None
        for name, body in list(entities.items()):
            if not isinstance(body, dict):
                continue
            layers: list[tuple[dict[str, Any], KeyPath]] = []
            if isinstance(dflt, dict) and dflt:
                layers.append((dflt, ("defaults", dkey)))
            gnames = body.get("groups", [])
            if isinstance(gnames, list):
                for i, g in enumerate(gnames):
                    grp = groups.get(g) if isinstance(g, str) else None
                    if grp is None:
                        loaded.problem((section, name, "groups", i), f"unknown group '{g}'")
                        continue
                    gvars = grp.get("vars", {}) if isinstance(grp, dict) else {}
                    if isinstance(gvars, dict):
                        layers.append((gvars, ("groups", g, "vars")))
            if not layers:
                continue
            merged: dict[str, Any] = {}
            for layer, lpath in layers:
                merged = _deep_merge(merged, copy.deepcopy(layer))
                for suffix, o in suffixes(lpath):
                    loaded.origins[(section, name, *suffix)] = o
            entities[name] = _deep_merge(merged, body)


def _secret_problems(loaded: Loaded, path: KeyPath, value: Any, reported: set[KeyPath]) -> None:
    """Report every secret-shaped key holding a value, wherever it sits (every section)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and _INLINE_SECRET.match(k) and v not in (None, ""):
                loaded.problem((*path, k), "looks like a secret written inline; store it in an "
                               "environment variable or a 0600 file, declare it under secrets:, "
                               "and reference it by name")
                reported.add((*path, k))
            else:
                _secret_problems(loaded, (*path, k), v, reported)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _secret_problems(loaded, (*path, i), v, reported)


def _validate(model: type[BaseModel], value: Any, path: KeyPath, loaded: Loaded,
              reported: frozenset[KeyPath] | set[KeyPath] = frozenset()) -> Any:
    """Validate one section or entity; ``None`` (with at least one problem added) if invalid."""
    before = len(loaded.problems)
    try:
        return model.model_validate(value)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc = tuple(err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                if (*path, *loc) in reported:
                    continue  # already reported as an inline secret
                msg = "unknown key (check the spelling; see inventory/README.md)"
            elif err["type"] == "string_pattern_mismatch" and loc and loc[-1] in SECRET_REF_FIELDS:
                msg = ("must be the name of an entry under secrets:, not the secret itself "
                       "(secrets are referenced by name)")
            elif err["type"] == "missing":
                msg = "required key is missing"
            elif msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            elif err["type"] == "literal_error":
                msg = f"{msg} (got {err.get('input')!r})"
            loaded.problem((*path, *loc), msg)
        if len(loaded.problems) == before and not any(
            r[: len(path)] == path for r in reported
        ):
            # Never drop an entity without saying why.
            loaded.problem(path, "is not valid (see inventory/README.md)")
        return None


def load_inventory(directory: Path | str) -> m.Inventory:
    """Load and validate an inventory. Raises :class:`InventoryInvalid` listing every problem.

    No entity is ever left out without a problem naming it: an entity that fails validation is
    reported (``InventoryInvalid.partial`` holds the ones that validated).
    """
    directory = Path(directory)
    try:
        return _load(directory)
    except RecursionError:
        # source.MAX_DEPTH keeps values shallow; this is the last line of defence.
        raise ConfigError(f"{directory}: values are nested too deeply to check",
                          hint="flatten the nested values; the inventory never needs deep nesting"
                          ) from None


def _load(directory: Path) -> m.Inventory:
    loaded = read_directory(directory)
    # remember each entity's own origins so inherited ones never overwrite them
    own = dict(loaded.origins)
    _inherit(loaded)
    for k, o in own.items():
        loaded.origins[k] = o
    data = loaded.data
    # Inline secrets are refused in every section: a secret-shaped key is never part of the
    # schema, and reporting it here (not as "unknown key") tells the user what to do instead.
    reported: set[KeyPath] = set()
    for section in data:
        _secret_problems(loaded, (section,), data[section], reported)
    parts: dict[str, Any] = {}
    for section, model in SINGLE_SECTIONS.items():
        if section in data:
            parts[section] = _validate(model, data[section], (section,), loaded, reported)
        elif section != "defaults":
            loaded.problem((), f"section '{section}:' is missing")
    for section, model in MAPPING_SECTIONS.items():
        valid: dict[str, Any] = {}
        for name, body in (data.get(section) or {}).items():
            pattern = m.re_secret_name if section == "secrets" else m.re_name
            if not pattern.match(str(name)):
                loaded.problem((section, name), "names are lower-case letters, digits and '-' "
                               "(at most 63 characters, no leading/trailing '-')")
                continue
            if body is None:
                loaded.problem((section, name), "is empty")
                continue
            v = _validate(model, body, (section, name), loaded, reported)
            if v is not None:
                valid[str(name)] = v
        parts[section] = valid
    if "sites" not in data:
        loaded.problem((), "section 'sites:' is missing")
    if any(parts.get(s) is None for s in ("organisation", "plan")):
        raise InventoryInvalid(str(directory), loaded.problems)
    # Cross-check what did validate, so one bad entity doesn't hide the other problems. Names
    # that exist but failed validation still count as existing (no follow-on "unknown" errors).
    names = {sec: set((data.get(sec) or {}).keys()) for sec in MAPPING_SECTIONS}
    if loaded.problems:
        inv = m.Inventory.model_construct(**{**parts, "source": str(directory)})
    else:
        inv = m.Inventory.model_validate({**parts, "source": str(directory)})
    cross_check(inv, loaded, names)
    run_checks(inv, loaded)  # what the domains know (entry points; simpul.inventory.hooks)
    if loaded.problems:
        raise InventoryInvalid(str(directory), loaded.problems, inv)
    return inv
