"""The dependency rule of docs/architecture.md, checked on every module's imports (``ast``).

- the core (``simpul/``) imports no domain;
- a domain (``lab/ deploys/ network/ monitoring/ drc/ evidence/``) imports the core, never
  another domain — except the exceptions listed in :data:`ALLOWED`, and then only public names
  (no ``_private`` module or name);
- product code never imports test code (``tests/``, ``support``, ``labkit``, ``conftest``);
- one fan-out for per-host work: thread pools and ``asyncio.gather`` fan-outs live only in the
  core runner (``simpul/runner.py``).

Imports inside functions count too, and so do ``importlib.import_module("simpul.x")`` calls
with a literal name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOMAINS = ("lab", "deploys", "network", "monitoring", "drc", "evidence")
CORE = "simpul"

# (importer, imported): drc/ orchestrates the other domains through their public functions
# (drills drive deploys, the network, the monitoring and — in the lab — the lab's links); the
# network's pre-push twin boots throwaway routers with the lab's machinery; the evidence pack
# collects what every domain produces.
ALLOWED = {
    ("drc", "deploys"), ("drc", "network"), ("drc", "monitoring"), ("drc", "lab"),
    ("network", "lab"),
    ("evidence", "deploys"), ("evidence", "network"), ("evidence", "monitoring"),
    ("evidence", "drc"),
}
TEST_MODULES = ("tests", "support", "labkit", "conftest")
FANOUT_OWNER = "simpul/runner.py"
# concurrency that is not per-host fan-out: work *inside* one target's task
NOT_PER_HOST = {
    "deploys/outside.py": "a TCP connect scan of one server's ports (one target)",
}


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


def _package_of(rel: Path) -> str:
    """``deploys/audit.py`` → ``simpul.deploys``; ``simpul/inventory/x.py`` → ``simpul.inventory``."""
    parts = list(rel.with_suffix("").parts)
    if parts[0] != CORE:
        parts = [CORE, *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts)
    return ".".join(parts[:-1])


def _area(module: str) -> str | None:
    """``simpul.network.ipam`` → ``network``; ``simpul.results`` → ``core``; others → None."""
    parts = module.split(".")
    if parts[0] != CORE:
        return None
    if len(parts) > 1 and parts[1] in DOMAINS:
        return parts[1]
    return "core"


def _imports(tree: ast.AST, package: str) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import in ``tree``."""
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            names = [a.name for a in node.names]
            out.append((node.lineno, mod, names))
            # "from simpul import network" imports the sub-package
            out += [(node.lineno, f"{mod}.{n}", []) for n in names if mod == CORE and n in DOMAINS]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value, []))
    return out


def check_tree(root: Path) -> list[Violation]:
    """Every violation of the dependency rule in the product code under ``root``."""
    found: list[Violation] = []
    for top in (CORE, *DOMAINS):
        for path in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else []:
            rel = path.relative_to(root)
            me = _area(_package_of(rel))
            tree = ast.parse(path.read_text(), filename=str(rel))
            for line, mod, names in _imports(tree, _package_of(rel)):
                if mod.split(".")[0] in TEST_MODULES:
                    found.append(Violation(str(rel), line, f"product code imports test code '{mod}'"))
                    continue
                other = _area(mod)
                if other is None or other == me or other == "core":
                    continue
                if me == "core":
                    found.append(Violation(str(rel), line, f"the core imports the domain '{mod}'"))
                elif (me, other) not in ALLOWED:
                    found.append(Violation(str(rel), line, f"domain '{me}' imports domain '{mod}'"))
                elif any(p.startswith("_") for p in mod.split(".")) or any(
                        n.startswith("_") for n in names):
                    found.append(Violation(str(rel), line,
                                           f"'{me}' may use only public names of '{other}': {mod} {names}"))
    return found


def fanouts(root: Path) -> list[Violation]:
    """Thread pools / gather fan-outs outside the core runner."""
    found = []
    for top in (CORE, *DOMAINS):
        for path in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else []:
            rel = str(path.relative_to(root))
            if rel == FANOUT_OWNER or rel in NOT_PER_HOST:
                continue
            tree = ast.parse(path.read_text(), filename=rel)
            for node in ast.walk(tree):
                names = ([node.attr] if isinstance(node, ast.Attribute)
                         else [node.id] if isinstance(node, ast.Name)
                         else [a.name for a in node.names] if isinstance(node, ast.ImportFrom)
                         else [])
                for name in names:
                    if name in ("ThreadPoolExecutor", "ProcessPoolExecutor", "gather"):
                        found.append(Violation(rel, getattr(node, "lineno", 0), f"fan-out '{name}'"))
    return found


def test_product_code_follows_the_dependency_rule() -> None:
    problems = check_tree(REPO)
    assert not problems, "\n".join(map(str, problems))


def test_per_host_fan_out_lives_only_in_the_core_runner() -> None:
    problems = fanouts(REPO)
    assert not problems, "\n".join(map(str, problems))


# --- the checker itself fails on what it must refuse --------------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


@pytest.mark.parametrize(("files", "expected"), [
    ({"monitoring/cli.py": "from simpul.lab.topology import router_ns\n"},
     "monitoring/cli.py:1: domain 'monitoring' imports domain 'simpul.lab.topology'"),
    ({"deploys/x.py": "def f():\n    from simpul.lab import netns\n"},
     "deploys/x.py:2: domain 'deploys' imports domain 'simpul.lab'"),
    ({"network/x.py": "from ..monitoring import sinks\n"},
     "network/x.py:1: domain 'network' imports domain 'simpul.monitoring'"),
    ({"simpul/results.py": "import simpul.deploys.audit\n"},
     "simpul/results.py:1: the core imports the domain 'simpul.deploys.audit'"),
    ({"lab/x.py": "from simpul import drc\n"},
     "lab/x.py:1: domain 'lab' imports domain 'simpul.drc'"),
    ({"deploys/x.py": "from support.localdaemons import SnmpdProcess\n"},
     "deploys/x.py:1: product code imports test code 'support.localdaemons'"),
    ({"drc/x.py": "from simpul.deploys.runner import _outcome\n"},
     "drc/x.py:1: 'drc' may use only public names of 'deploys'"),
    ({"monitoring/x.py": "import importlib\nm = importlib.import_module('simpul.lab.noc')\n"},
     "monitoring/x.py:2: domain 'monitoring' imports domain 'simpul.lab.noc'"),
])
def test_checker_refuses_forbidden_imports(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    problems = [str(v) for v in check_tree(_tree(tmp_path, files))]
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_checker_allows_the_listed_exceptions_and_the_core(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "drc/x.py": "from simpul.deploys.runner import run_hosts\nfrom simpul.lab import wan\n",
        "network/twin.py": "from simpul.lab.private import PrivateLab\n",
        "monitoring/y.py": "from simpul.results import Result\nfrom .engine import SnmpEngine\n",
        "simpul/cli.py": "LAZY = {'net': ('simpul.network.net_cli', 'net', '')}\n",
    })
    assert check_tree(root) == []


def test_fanout_check_finds_a_thread_pool_outside_the_runner(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "deploys/x.py": "from concurrent.futures import ThreadPoolExecutor\n",
        "simpul/runner.py": "import asyncio\nasyncio.gather()\n",
    })
    assert [str(v) for v in fanouts(root)] == ["deploys/x.py:1: fan-out 'ThreadPoolExecutor'"]


IMPORT_EACH = r"""
import importlib, json, sys
names = json.loads(sys.argv[1])
bad = []
for name in names:
    for k in [k for k in sys.modules if k == "simpul" or k.startswith("simpul.")]:
        del sys.modules[k]
    try:
        importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - every failure is reported by module
        bad.append(f"{name}: {type(e).__name__}: {e}")
print(json.dumps({"modules": len(names), "bad": bad}))
"""


def test_every_module_imports_first_on_its_own() -> None:
    """A command imports its modules lazily, so any module may be the first one loaded: an import
    cycle that only bites in one order (``simpul.secrets_ref`` → ``simpul.inventory`` →
    ``simpul.secrets_ref``) broke ``evidence build`` once. Each module is imported into a clean
    ``simpul`` namespace, one after the other, in a child interpreter."""
    import json
    import subprocess
    import sys

    names = []
    for top in (CORE, *DOMAINS):
        for f in sorted((REPO / top).rglob("*.py")):
            parts = list(f.relative_to(REPO).with_suffix("").parts)
            if parts[0] != CORE:
                parts = [CORE, *parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
    cp = subprocess.run([sys.executable, "-c", IMPORT_EACH, json.dumps(names)], capture_output=True,
                        text=True, timeout=300, check=False)
    assert cp.returncode == 0, cp.stderr[-3000:]
    out = json.loads(cp.stdout.strip().splitlines()[-1])
    assert out["modules"] > 100, out  # the whole product, domains included
    assert not out["bad"], "\n".join(out["bad"])
