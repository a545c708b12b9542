"""The import graph of src/rubicon follows the data flow of DESIGN.md ("Architecture").

Every module under src/rubicon (the task programs under task/builtin excepted) is parsed with
`ast`; every import counts, including those inside functions. Two rules:

(a) no import cycle between modules;
(b) no import against the flow. The layers, and what each may import besides itself:

    foundation  errors, types, task, workspace,  -> foundation only
                config, settings
    researcher                                   -> foundation   (never measure, runner, store)
    runner                                       -> foundation   (never measure: the campaign
                                                                  injects measure's judge)
    measure                                      -> foundation   (never runner)
    store                                        -> foundation
    analytics                                    -> foundation
    campaign    campaign (the package), manager  -> foundation, researcher, runner, measure,
                                                    store, analytics
    report                                       -> foundation, store, analytics
    bench       bench (researchers x tasks)      -> foundation, campaign, report, services
    cli                                          -> the public facade `rubicon`, foundation
                                                    (plus the named exceptions in CLI_EXCEPTIONS)
    facade      rubicon/__init__.py              -> anything but cli

A module that fits no layer fails the test: add it to LAYER_OF with the layer it belongs to.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

LAYER_OF = {
    "errors": "foundation", "types": "foundation", "task": "foundation",
    "workspace": "foundation", "config": "foundation", "settings": "foundation",
    "_version": "foundation", "verdicts": "foundation",
    "researcher": "researcher", "runner": "runner", "measure": "measure", "store": "store",
    "analytics": "analytics",
    "campaign": "campaign", "manager": "campaign",
    "report": "report",
    "bench": "bench",
    "lineage": "lineage",
    "cli": "cli",
}
SERVICES = {"researcher", "runner", "measure", "store", "analytics"}
MAY_IMPORT: dict[str, set[str]] = {
    "foundation": {"foundation"},
    **{s: {"foundation"} for s in SERVICES},
    "campaign": {"foundation", "campaign", *SERVICES},
    "report": {"foundation", "report", "store", "analytics"},
    "bench": {"foundation", "bench", "campaign", "report", *SERVICES},
    "lineage": {"foundation", "lineage", "bench", "campaign", "report", *SERVICES},
    "cli": {"foundation", "cli", "facade"},
    "facade": {"foundation", "campaign", "report", "bench", "lineage", "facade", *SERVICES},
}
for _layer in SERVICES:
    MAY_IMPORT[_layer].add(_layer)

# The CLI reaches past the facade today. Each pair is (importing module, imported module); the
# CLI/facade rework (issue 19, deliverable 1) should empty this list. Nothing else may be added
# without a reason.
CLI_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset({
    ("rubicon.cli.ask_tell", "rubicon.store"),
    ("rubicon.cli.doctor", "rubicon.runner"),
    # `show` says "stopped" for a campaign recorded running whose lock nobody holds (issue 25)
    ("rubicon.cli.show", "rubicon.campaign.scheduler"),
    ("rubicon.cli.horizon", "rubicon.analytics"),
    # `rubicon lineage` (issue 23): the lineage package is not in the facade (it imports bench)
    ("rubicon.cli.lineage", "rubicon.lineage"),
    # `rubicon bench` and `rubicon report BENCH_DIR` (issue 20): bench is not in the facade yet
    ("rubicon.cli.bench", "rubicon.bench"),
    ("rubicon.cli.bench", "rubicon.bench.records"),
    ("rubicon.cli.bench", "rubicon.bench.summary"),
    ("rubicon.cli.report", "rubicon.bench"),
    ("rubicon.cli.report", "rubicon.bench.report"),
    ("rubicon.cli.report", "rubicon.report"),
    # `rubicon returns` (issue 23): the returns meter reads lineages and campaigns; lineage is
    # not in the facade (docs/API.md) yet
    ("rubicon.cli.returns", "rubicon.lineage.audit"),
    ("rubicon.cli.returns", "rubicon.lineage.returns"),
    ("rubicon.cli.run", "rubicon.manager"),
    ("rubicon.cli.serve", "rubicon.report.server"),
    ("rubicon.cli.show", "rubicon.manager"),
    ("rubicon.cli.show", "rubicon.store"),
    ("rubicon.cli.tasks", "rubicon.researcher"),
})

Graph = dict[str, set[str]]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(root: Path, package: str = "rubicon") -> dict[str, Path]:
    """Module name -> file, for every module of `package` below `root` (task programs under
    task/builtin are data, not rubicon modules)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        if "builtin" in path.relative_to(root / package).parts[:2]:
            continue
        out[module_name(root, path)] = path
    return out


def _targets(node: ast.AST, here: str, is_package: bool, known: set[str]) -> Iterable[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = here.split(".") if is_package else here.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        for alias in node.names:
            sub = f"{mod}.{alias.name}"
            yield sub if sub in known else mod


def import_graph(root: Path, package: str = "rubicon") -> Graph:
    """Module -> the modules of `package` it imports anywhere in its body."""
    mods = modules_under(root, package)
    known = set(mods)
    graph: Graph = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {
            t for node in ast.walk(tree)
            for t in _targets(node, name, is_package, known)
            if t == package or t.startswith(package + ".")
        }
    return graph


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) == 1:
        return "facade"
    return LAYER_OF.get(parts[1])


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing
    itself), each sorted (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1 or node in graph.get(node, ()):
                        found.append(sorted(comp))
    return sorted(found)


def violations(graph: Graph, exceptions: frozenset[tuple[str, str]] = CLI_EXCEPTIONS) -> list[str]:
    """Every rule broken by `graph`, as readable lines (empty: the graph is fine)."""
    out = [f"import cycle among: {', '.join(c)}" for c in cycles(graph)]
    for mod in sorted(graph):
        src = layer_of(mod)
        if src is None:
            out.append(f"{mod}: no layer (add its top-level name to LAYER_OF)")
            continue
        for dep in sorted(graph[mod]):
            if dep not in graph:
                out.append(f"{mod} imports {dep}, which is not a module of the package")
                continue
            dst = layer_of(dep)
            if dst is None or dst in MAY_IMPORT[src] or (mod, dep) in exceptions:
                continue
            out.append(f"{mod} ({src}) imports {dep} ({dst}): against the flow")
    return out


# ------------------------------------------------------------------------------------------------


def test_the_source_tree_follows_the_flow() -> None:
    graph = import_graph(SRC)
    assert "rubicon.runner.trial" in graph and "rubicon.measure.judge" in graph  # parsed it
    assert violations(graph) == []


def test_every_cli_exception_is_still_needed() -> None:
    """An exception nobody uses any more is removed from the list (so the list only shrinks)."""
    graph = import_graph(SRC)
    used = {(m, d) for m, deps in graph.items() for d in deps}
    assert sorted(CLI_EXCEPTIONS - used) == []


def test_the_checker_catches_a_backward_import() -> None:
    graph: Graph = {
        "rubicon": set(),
        "rubicon.types": set(),
        "rubicon.measure.judge": {"rubicon.types"},
        "rubicon.runner.trial": {"rubicon.types"},
        "rubicon.campaign": {"rubicon.measure.judge", "rubicon.runner.trial"},
    }
    assert violations(graph) == []
    graph["rubicon.measure.judge"].add("rubicon.runner.trial")
    assert violations(graph) == [
        "rubicon.measure.judge (measure) imports rubicon.runner.trial (runner): against the flow"]
    graph["rubicon.measure.judge"].discard("rubicon.runner.trial")
    graph["rubicon.types"].add("rubicon.campaign")
    found = violations(graph)
    assert ("import cycle among: rubicon.campaign, rubicon.measure.judge, rubicon.runner.trial, "
            "rubicon.types") in found
    assert "rubicon.types (foundation) imports rubicon.campaign (campaign): against the flow" in found


def test_the_checker_reads_function_level_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "rubicon"
    for d in ("", "measure", "runner", "researcher"):
        (pkg / d).mkdir(exist_ok=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "types.py").write_text("X = 1\n")
    (pkg / "runner" / "sandbox.py").write_text("from rubicon.types import X\n")
    (pkg / "measure" / "judge.py").write_text(
        "from ..types import X\n\ndef late():\n    from rubicon.runner import sandbox\n")
    (pkg / "researcher" / "llm.py").write_text(
        "def f():\n    import rubicon.measure.judge as j\n    return j\n")
    (pkg / "task" / "builtin" / "demo").mkdir(parents=True)
    (pkg / "task" / "builtin" / "demo" / "run.py").write_text("import rubicon.campaign\n")
    graph = import_graph(tmp_path)
    assert "rubicon.task.builtin.demo.run" not in graph  # task programs are not modules
    assert graph["rubicon.measure.judge"] == {"rubicon.types", "rubicon.runner.sandbox"}
    assert violations(graph) == [
        "rubicon.measure.judge (measure) imports rubicon.runner.sandbox (runner): against the flow",
        "rubicon.researcher.llm (researcher) imports rubicon.measure.judge (measure): "
        "against the flow",
    ]


def test_an_unknown_top_level_module_must_be_placed() -> None:
    assert violations({"rubicon.newthing": set()}) == [
        "rubicon.newthing: no layer (add its top-level name to LAYER_OF)"]
