"""Read YAML inventory files into plain data plus a map from key path to file and line.

Every later error message needs ``file:line key.path``; PyYAML's composed node tree carries the
marks, so we construct the data ourselves from the nodes. Duplicate keys (which PyYAML would
silently overwrite), non-string keys, huge files and alias bombs are reported as problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_NODES = 2_000_000
# No inventory value is nested more than a handful of levels; a limit here keeps every later step
# (inheritance, deep merges, validation, JSON output) far from Python's recursion limit.
MAX_DEPTH = 40
# libyaml's parser is ~10x faster than the pure-Python one and keeps line marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the inventory, located as precisely as we can."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        return f"{loc} {self.path}: {self.message}" if self.path else f"{loc}: {self.message}"


@dataclass(frozen=True)
class Origin:
    file: str
    line: int


def dotted(path: KeyPath) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0
        self.loader: yaml.SafeLoader | None = None


def load_yaml(path: Path, display: str) -> tuple[Any, dict[KeyPath, Origin], list[Problem]]:
    """Parse one file. Returns (data, origins, problems); data is None when unusable."""
    problems: list[Problem] = []
    origins: dict[KeyPath, Origin] = {}
    try:
        size = path.stat().st_size
    except OSError as e:
        return None, origins, [Problem(display, 0, "", f"cannot read file: {e.strerror}")]
    if size > MAX_FILE_BYTES:
        return None, origins, [
            Problem(display, 0, "", f"file is {size // (1024 * 1024)} MiB; the limit is "
                    f"{MAX_FILE_BYTES // (1024 * 1024)} MiB (split it into several files)")
        ]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return None, origins, [Problem(display, 0, "", f"not UTF-8 text (byte {e.start})")]
    except OSError as e:
        return None, origins, [Problem(display, 0, "", f"cannot read file: {e.strerror}")]
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        return None, origins, [Problem(display, 0, "", "file is empty (remove it or add data)")]
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        what = e.problem or str(e)
        return None, origins, [Problem(display, line, "", f"invalid YAML: {what}")]
    except yaml.YAMLError as e:
        return None, origins, [Problem(display, 0, "", f"invalid YAML: {e}")]
    except RecursionError:
        return None, origins, [Problem(display, 0, "", "invalid YAML: nested too deeply")]
    if node is None:
        return None, origins, [Problem(display, 0, "", "file is empty (remove it or add data)")]
    budget = _Budget()
    budget.loader = yaml.SafeLoader("")
    try:
        data = _build(node, (), display, origins, problems, budget)
    except _TooBig:
        return None, {}, [Problem(display, 0, "", "file expands to too many values (alias bomb?)")]
    except RecursionError:
        return None, {}, [Problem(display, 0, "", "invalid YAML: nested too deeply")]
    return data, origins, problems


class _TooBig(Exception):
    pass


def _build(
    node: yaml.Node,
    path: KeyPath,
    display: str,
    origins: dict[KeyPath, Origin],
    problems: list[Problem],
    budget: _Budget,
) -> Any:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise _TooBig
    origins.setdefault(path, Origin(display, node.start_mark.line + 1))
    if len(path) > MAX_DEPTH and isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        problems.append(Problem(display, node.start_mark.line + 1, dotted(path[:8]) + "...",
                                f"nested more than {MAX_DEPTH} levels deep (the inventory never "
                                "needs that; a runaway alias or generated file?)"))
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                problems.append(Problem(display, knode.start_mark.line + 1, dotted(path),
                                        "YAML merge keys (<<) are not supported; use groups"))
                continue
            if not isinstance(knode, yaml.ScalarNode):
                problems.append(Problem(display, knode.start_mark.line + 1, dotted(path),
                                        "keys must be plain names, not lists or mappings"))
                continue
            key = str(knode.value)
            line = knode.start_mark.line + 1
            if key in seen:
                problems.append(Problem(display, line, dotted((*path, key)),
                                        f"duplicate key (first defined on line {seen[key]})"))
                continue
            seen[key] = line
            child = (*path, key)
            origins[child] = Origin(display, line)
            out[key] = _build(vnode, child, display, origins, problems, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(v, (*path, i), display, origins, problems, budget)
            for i, v in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    assert budget.loader is not None
    try:
        return budget.loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        problems.append(Problem(display, node.start_mark.line + 1, dotted(path),
                                f"cannot read value: {e}"))
        return None


@dataclass
class Loaded:
    """The raw, merged data and where every key came from."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[KeyPath, Origin] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: KeyPath) -> Origin:
        p = tuple(path)
        while p:
            if p in self.origins:
                return self.origins[p]
            p = p[:-1]
        return self.origins.get((), Origin("", 0))

    def problem(self, path: KeyPath, message: str) -> None:
        o = self.where(path)
        self.problems.append(Problem(o.file, o.line, dotted(path), message))
