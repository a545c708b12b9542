"""Shared by the fix tasks' prepare.py and evaluate.py (harness-owned; this file is identical in
every fix-* task, which tests/task_suite checks).

prepare: hidden tests are lists of cases (a call of the package on inputs drawn from this run's
seeds). The inputs go to {inputs} (the run sees them as inputs/); the expected outputs, computed
by the fixed package (reference/ overlaid on workspace/) through the workspace's own check.py,
go to {private} with the tests' grouping. Nothing expected ever enters the run's view.

Where more than one output is right (a random split, say), a case carries a property check
instead (`_check`: a name and arguments, kept in {private} only): the task's checks.py says
whether an output has the property, and prepare verifies that the fixed package's has.

evaluate: a hidden test passes when every one of its cases matches the expected output
(numbers within the tolerance, everything else exactly) or passes its property check. Scores
come only from the artifact's outputs compared with {private}; numbers printed, never the
candidate's text.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import math
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.dont_write_bytecode = True  # never leave __pycache__ in the task directory

TASK_DIR = Path(__file__).resolve().parent.parent
MAX_RESULTS_BYTES = 64 * 1024 * 1024
Checks = dict[str, Callable[[Any, dict[str, Any]], bool]]


def rng_from_env() -> np.random.Generator:
    """This run's generator: the secret evaluation seed and the run's seed together."""
    try:
        eval_seed = int(os.environ["RUBICON_EVAL_SEED"])
    except (KeyError, ValueError):
        sys.exit("prepare: RUBICON_EVAL_SEED (an integer) is not set; the harness sets it")
    run_seed = int(os.environ.get("RUBICON_RUN_SEED", "0") or 0)
    return np.random.default_rng([eval_seed, run_seed])


def load_check() -> ModuleType:
    """The workspace's check.py as a module (its `compute` and `to_json`)."""
    spec = importlib.util.spec_from_file_location("task_check", TASK_DIR / "workspace" / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_oracle(package: str, scratch: Path) -> ModuleType:
    """The fixed package: workspace/<package> with reference/<package> laid over it."""
    dest = scratch / package
    shutil.copytree(TASK_DIR / "workspace" / package, dest)
    ref = TASK_DIR / "reference" / package
    for src in ref.rglob("*"):
        if src.is_file():
            target = dest / src.relative_to(ref)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    sys.path.insert(0, str(scratch))
    importlib.invalidate_caches()
    return importlib.import_module(package)


def count_visible_tests() -> int:
    """Number of `test_*` functions in workspace/tests/test_*.py (what check.py must run)."""
    n = 0
    for path in sorted((TASK_DIR / "workspace" / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        n += sum(1 for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))
    return n


class Builder:
    """Collects hidden tests and their cases, then writes inputs/ and {private}."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tests: list[tuple[str, list[dict[str, Any]]]] = []
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a: np.ndarray) -> str:
        key = f"x{len(self.arrays):04d}"
        self.arrays[key] = np.asarray(a)
        return key

    def add(self, name: str, cases: list[dict[str, Any]]) -> None:
        self.tests.append((name, cases))

    def write(self, inputs: Path, private: Path, package: str, scratch: Path,
              rtol: float = 1e-7, atol: float = 1e-10, extra: dict[str, Any] | None = None,
              checks: Checks | None = None) -> None:
        check = load_check()
        pkg = load_oracle(package, scratch)
        flat = [(ti, case) for ti, (_, cases) in enumerate(self.tests) for case in cases]
        order = self.rng.permutation(len(flat))
        # array keys are renamed in case order, so neither ids nor keys reveal a test
        rename: dict[str, str] = {}
        cases_out: list[dict[str, Any]] = []
        members: list[list[str]] = [[] for _ in self.tests]
        props: dict[str, dict[str, Any]] = {}
        for pos, k in enumerate(order):
            ti, case = flat[int(k)]
            cid = f"c{pos:04d}"
            case = {"id": cid, **{f: v for f, v in case.items() if f != "_check"}}
            if "_check" in flat[int(k)][1]:
                props[cid] = flat[int(k)][1]["_check"]
            for field, value in list(case.items()):
                if isinstance(value, str) and value in self.arrays:
                    rename.setdefault(value, f"a{len(rename):04d}")
                    case[field] = rename[value]
            cases_out.append(case)
            members[ti].append(cid)
        arrays = {rename[k]: v for k, v in self.arrays.items() if k in rename}
        ctx = {"arrays": arrays, "extra": extra or {}}
        expected: dict[str, Any] = {}
        for case in cases_out:
            try:
                expected[case["id"]] = check.to_json(check.compute(pkg, case, ctx))
            except Exception as e:  # noqa: BLE001 - some hidden tests expect an exception
                expected[case["id"]] = {"error": type(e).__name__}
            prop = props.get(case["id"])
            if prop is not None:
                if checks is None or not checks[prop["check"]](expected[case["id"]], prop["args"]):
                    raise AssertionError(f"the fixed package fails its own check {prop['check']}")
                expected[case["id"]] = {"__check__": prop["check"], "args": prop["args"]}
        inputs.mkdir(parents=True, exist_ok=True)
        private.mkdir(parents=True, exist_ok=True)
        (inputs / "cases.json").write_text(json.dumps({"extra": extra or {}, "cases": cases_out}))
        if arrays:
            np.savez(inputs / "arrays.npz", **arrays)
        (private / "expected.json").write_text(json.dumps({
            "rtol": rtol, "atol": atol, "visible_total": count_visible_tests(),
            "tests": [{"name": n, "cases": m} for (n, _), m in zip(self.tests, members, strict=True)],
            "expected": expected,
        }))


def same(got: Any, want: Any, rtol: float, atol: float) -> bool:
    """JSON values equal; floats within tolerance; bools never stand in for numbers."""
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return type(got) is type(want) and got == want
    if isinstance(want, int | float):
        if isinstance(got, bool) or not isinstance(got, int | float):
            return False
        if isinstance(want, int) and isinstance(got, int):
            return got == want
        g, w = float(got), float(want)
        if not (math.isfinite(g) and math.isfinite(w)):
            return g == w or (math.isnan(g) and math.isnan(w))
        return abs(g - w) <= atol + rtol * abs(w)
    if isinstance(want, list):
        return (isinstance(got, list) and len(got) == len(want)
                and all(same(g, w, rtol, atol) for g, w in zip(got, want, strict=True)))
    if isinstance(want, dict):
        return (isinstance(got, dict) and set(got) == set(want)
                and all(same(got[k], want[k], rtol, atol) for k in want))
    return False


def matches(got: Any, want: Any, rtol: float, atol: float, checks: Checks) -> bool:
    """An output against its expected value or property check (never raises)."""
    if isinstance(want, dict) and "__check__" in want:
        try:
            return bool(checks[want["__check__"]](got, want["args"]))
        except Exception:  # noqa: BLE001 - a malformed output fails its check
            return False
    return same(got, want, rtol, atol)


def evaluate(artifacts: Path, private: Path, checks: Checks | None = None) -> dict[str, float] | str:
    """Metrics, or the reason the artifact is invalid."""
    spec = json.loads((private / "expected.json").read_text())
    path = artifacts / "results.json"
    if not path.is_file():
        return "results.json was not produced (check.py writes it)"
    if path.stat().st_size > MAX_RESULTS_BYTES:
        return f"results.json is larger than {MAX_RESULTS_BYTES // 2**20} MiB"
    try:
        res = json.loads(path.read_text(encoding="utf-8"))
        outputs = res["outputs"]
        passed, total = res["visible"]["passed"], res["visible"]["total"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        return f"results.json is not what check.py writes ({type(e).__name__})"
    if not isinstance(outputs, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (passed, total)):
        return "results.json is not what check.py writes (outputs or visible counts)"
    want = spec["expected"]
    rtol, atol = float(spec["rtol"]), float(spec["atol"])
    ok_case = {cid: cid in outputs and matches(outputs[cid], w, rtol, atol, checks or {})
               for cid, w in want.items()}
    tests = spec["tests"]
    ok_tests = sum(1 for t in tests if all(ok_case[c] for c in t["cases"]))
    vis_total = int(spec["visible_total"])
    # check.py runs every visible test; a different count means the tests were not all run
    vis = passed / vis_total if total == vis_total and 0 <= passed <= total else 0.0
    return {
        "hidden_passed": ok_tests / len(tests),
        "hidden_tests": float(len(tests)),
        "cases_matched": sum(ok_case.values()) / len(ok_case),
        "visible_passed": vis,
        "visible_tests": float(vis_total),
    }


def evaluate_main(argv: list[str], checks: Checks | None = None) -> int:
    if len(argv) != 3:
        print("usage: evaluate.py ARTIFACTS PRIVATE", file=sys.stderr)
        return 2
    out = evaluate(Path(argv[1]), Path(argv[2]), checks)
    if isinstance(out, str):
        print(f"invalid: {out}")
        return 0
    for k, v in out.items():
        print(f"{k}: {v:.6g}")
    return 0
