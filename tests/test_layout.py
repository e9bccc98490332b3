"""The package's import rules, read from the source with ``ast`` (pure, fast).

- no import cycles between modules (a package ``__init__`` may re-export its own
  submodules);
- no import cycles between the top-level packages of ``streams/`` (its folders and its
  top-level modules), so the folders stay layers: each one may import those below it only;
- only ``streams/worker/`` imports faust, so everything else loads without it;
- ``streams/core/`` imports nothing from streams outside core and nothing that
  does I/O, so the rules it holds are tested without services;
- every package under ``streams/`` is listed in pyproject.toml, so none is left
  out of the wheel.
- no module of ``streams/cli/`` grows past ``CLI_MODULE_LINES``: one command group per
  module, its parser next to its handlers, so ``cli/main.py`` stays the list of them.

Module-level and function-level imports count alike. Each rule is a function
over a plain graph, checked below on a synthetic graph that breaks it.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "streams"
IO_MODULES = frozenset({"faust", "aiokafka", "kafka", "clickhouse_driver", "chdb",
                        "prometheus_client", "subprocess", "socket", "urllib"})

Graph = Mapping[str, set[str]]
"""Module name -> every dotted name it imports (streams modules and third-party alike)."""


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def is_package(name: str, modules: Mapping[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def imported_names(name: str, modules: Mapping[str, Path]) -> set[str]:
    """Dotted names a module imports; ``from a import b`` names ``a.b`` when that is a module."""
    tree = ast.parse(modules[name].read_text(), filename=str(modules[name]))
    here = name if is_package(name, modules) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*anchor, *filter(None, [base])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
    return found


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    return {name: imported_names(name, modules) for name in modules}


def internal_edges(graph: Graph, modules: Iterable[str]) -> dict[str, set[str]]:
    """Edges between the package's own modules; a name inside a module counts as the module."""
    known = set(modules)

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    return {source: {target for target in map(owner, names) if target and target != source}
            for source, names in graph.items()}


def cycles(graph: Graph, packages: Iterable[str] = ()) -> list[list[str]]:
    """Groups of modules that import each other, directly or around a loop.

    An edge from a package ``__init__`` (named in ``packages``) into its own
    submodules is a re-export and does not count.
    """
    packages = set(packages)
    edges = {source: {t for t in targets if not (source in packages
                                                 and t.startswith(source + "."))}
             for source, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def top(name: str) -> str:
    return name.split(".", 1)[0]


def folder(name: str) -> str | None:
    """The top-level package a module is in: ``s.kafka.admin`` -> ``s.kafka``, a top-level
    module is its own (``s.config``); None for the root package itself."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else None


def folder_loops(edges: Graph) -> dict[str, list[str]]:
    """Each loop between folders, named by its folders (``s.a <-> s.b``), with the
    module imports that make it, so a failure says which import to move."""
    between: dict[str, set[str]] = {}
    imports: dict[tuple[str, str], list[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            a, b = folder(source), folder(target)
            if a and b and a != b:
                between.setdefault(a, set()).add(b)
                imports.setdefault((a, b), []).append(f"{source} -> {target}")
    return {" <-> ".join(loop): sorted(edge for a in loop for b in loop
                                       for edge in imports.get((a, b), []))
            for loop in cycles(between)}


def faust_outside_worker(graph: Graph) -> list[str]:
    return sorted(module for module, names in graph.items()
                  if "faust" in map(top, names) and module != "streams.worker"
                  and not module.startswith("streams.worker."))


def impure_core(graph: Graph) -> dict[str, list[str]]:
    """Core modules and what they must not import: streams outside core, or I/O."""
    found = {}
    for module, names in graph.items():
        if module != "streams.core" and not module.startswith("streams.core."):
            continue
        bad = sorted(name for name in names
                     if top(name) in IO_MODULES
                     or (top(name) == "streams" and name != "streams.core"
                         and not name.startswith("streams.core.")))
        if bad:
            found[module] = bad
    return found


def unlisted_packages(packages: Iterable[str], listed: Iterable[str]) -> list[str]:
    return sorted(set(packages) - set(listed))


CLI_MODULE_LINES = 250


def long_modules(modules: Mapping[str, Path], package: str, limit: int) -> dict[str, int]:
    """Modules of ``package`` (itself included) longer than ``limit`` lines, with their length."""
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules.items()
               if name == package or name.startswith(package + ".")}
    return {name: lines for name, lines in sorted(lengths.items()) if lines > limit}


# ------------------------------------------------------------------ the rules on streams/

MODULES = module_names()
GRAPH = import_graph(MODULES)
PACKAGES = [name for name in MODULES if is_package(name, MODULES)]


def test_the_graph_sees_the_package() -> None:
    assert {"streams.core.scores", "streams.worker.app", "streams.cli.main",
            "streams.tools.generate.model", "streams.kafka"} <= MODULES.keys()
    assert "streams.core.stats" in GRAPH["streams.core.scores"]
    assert "faust" in GRAPH["streams.worker.app"]
    # from-imports of submodules and function-level imports are both seen
    assert "streams.kafka.broker" in GRAPH["streams.kafka.admin"]
    assert "streams.worker.run" in GRAPH["streams.cli.servers"]


def test_no_import_cycles() -> None:
    assert cycles(internal_edges(GRAPH, MODULES), PACKAGES) == []


def test_no_import_cycles_between_folders() -> None:
    assert folder_loops(internal_edges(GRAPH, MODULES)) == {}


def test_only_the_worker_imports_faust() -> None:
    assert faust_outside_worker(GRAPH) == []
    assert {name for name in GRAPH["streams.app"] if top(name) == "streams"} \
        == {"streams.worker.app", "streams.config"}


def test_core_is_pure() -> None:
    assert impure_core(GRAPH) == {}


def test_cli_modules_stay_small() -> None:
    assert "streams.cli.main" in MODULES
    assert long_modules(MODULES, "streams.cli", CLI_MODULE_LINES) == {}


def test_every_package_is_in_the_wheel() -> None:
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert unlisted_packages(PACKAGES, listed) == []


# ------------------------------------------------------------------ each rule can fail

def test_cycle_rule_catches_loops_but_not_reexports() -> None:
    graph = {"p": {"p.a"}, "p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "q": {"p"}}
    assert cycles(graph, packages=["p"]) == [["p.a", "p.b", "p.c"]]
    reexport = {"p": {"p.a"}, "p.a": {"p"}}
    assert cycles(reexport, packages=["p"]) == []
    assert cycles(reexport, packages=[]) == [["p", "p.a"]]


def test_folder_rule_catches_a_loop_between_folders_but_not_within_one() -> None:
    graph = {"s": {"s.a"}, "s.a": set(), "s.a.x": {"s.b.y", "s.a.z"}, "s.a.z": {"s.a.x"},
             "s.b.y": {"s.c"}, "s.c": {"s.a.z"}, "s.d": {"s.a.x"}}
    assert folder_loops(graph) == {"s.a <-> s.b <-> s.c": [
        "s.a.x -> s.b.y", "s.b.y -> s.c", "s.c -> s.a.z"]}
    assert folder_loops({"s.a.x": {"s.a.z"}, "s.a.z": {"s.a.x"}, "s.a": {"s.a.x"}}) == {}


def test_internal_edges_map_names_to_their_modules() -> None:
    graph = {"s.a": {"s.b.f", "os.path", "s.a.x"}, "s.b": set()}
    assert internal_edges(graph, ["s.a", "s.b"]) == {"s.a": {"s.b"}, "s.b": set()}


def test_faust_rule_catches_an_import_outside_the_worker() -> None:
    graph = {"streams.worker.app": {"faust"}, "streams.worker": {"faust"},
             "streams.tools.x": {"faust.worker"}, "streams.workers": {"faust"},
             "streams.app": {"streams.worker.app"}}
    assert faust_outside_worker(graph) == ["streams.tools.x", "streams.workers"]


def test_core_rule_catches_edges_and_io() -> None:
    graph = {"streams.core.a": {"streams.core.b", "orjson", "math"},
             "streams.core.b": {"streams.warehouse", "socket"},
             "streams.core.c": {"kafka.admin", "streams.core"},
             "streams.queries.x": {"socket", "streams.warehouse"}}
    assert impure_core(graph) == {"streams.core.b": ["socket", "streams.warehouse"],
                                  "streams.core.c": ["kafka.admin"]}


def test_package_rule_catches_a_forgotten_package() -> None:
    assert unlisted_packages(["streams", "streams.new"], ["streams", "cxpulse_schemas"]) \
        == ["streams.new"]


def test_size_rule_catches_a_long_module_in_the_package_only(tmp_path: Path) -> None:
    (tmp_path / "long.py").write_text("x = 1\n" * 251)
    (tmp_path / "short.py").write_text("x = 1\n" * 250)
    modules = {"s.cli.long": tmp_path / "long.py", "s.cli.short": tmp_path / "short.py",
               "s.clix.long": tmp_path / "long.py", "s.core.long": tmp_path / "long.py"}
    assert long_modules(modules, "s.cli", 250) == {"s.cli.long": 251}


def test_relative_imports_resolve(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .sub import mod\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text(
        "from . import other\nfrom .. import top\n\ndef f():\n    import faust\n")
    (package / "sub" / "other.py").write_text("")
    (package / "top.py").write_text("")
    modules = module_names(package)
    assert imported_names("pkg", modules) == {"pkg.sub.mod"}
    assert imported_names("pkg.sub.mod", modules) == {"pkg.sub.other", "pkg.top", "faust"}
