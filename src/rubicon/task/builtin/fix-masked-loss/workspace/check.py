"""Harness-provided check (read-only).

1. Runs the visible tests in tests/ (every `test_*` function of every `tests/test_*.py`).
2. Calls the package on every hidden case in inputs/ (made for this run by the harness from a
   secret seed) and records what it returns, or the exception it raises.
3. Writes both to results.json. The harness's evaluator compares the outputs with the expected
   ones, which never enter this workspace; what this script prints is only for you.

Run it yourself with `python check.py` (it needs inputs/, which the harness provides; without
it only the visible tests run). `python -m pytest tests` runs the visible tests too.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
PACKAGE = "seqtrain"


def to_json(value: Any) -> Any:
    """Plain JSON values only: arrays become lists; anything else is an error."""
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        return to_json(value.item())
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot record a {type(value).__name__}")


def compute(pkg: Any, case: dict[str, Any], ctx: dict[str, Any]) -> Any:
    """What one hidden case calls. `pkg` is the package module; `ctx` holds the inputs' arrays."""
    logits = ctx["arrays"][case["logits"]]
    targets = ctx["arrays"][case["targets"]]
    kwargs = dict(case.get("kwargs", {}))
    fn = case["fn"]
    if fn == "loss":
        return pkg.masked_cross_entropy(logits, targets, **kwargs)
    if fn == "accuracy":
        return pkg.masked_accuracy(logits, targets, **kwargs)
    if fn == "perplexity":
        return pkg.perplexity(logits, targets, **kwargs)
    if fn == "lengths":
        return pkg.sequence_lengths(targets, **kwargs)
    raise ValueError(f"unknown case function {fn!r}")


def load_context(inputs: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The hidden cases and what they share (arrays, settings) from inputs/."""
    doc = json.loads((inputs / "cases.json").read_text())
    arrays: dict[str, Any] = {}
    if (inputs / "arrays.npz").is_file():
        with np.load(inputs / "arrays.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    return doc["cases"], {"arrays": arrays, "extra": doc.get("extra", {})}


def run_visible_tests() -> tuple[int, int, list[str]]:
    passed, failures = 0, []
    files = sorted((ROOT / "tests").glob("test_*.py"))
    for path in files:
        name = f"visible_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception:  # noqa: BLE001 - a test module that does not import fails its tests
            failures.append(f"{path.name}: import failed\n{traceback.format_exc(limit=3)}")
            continue
        for fname, fn in sorted(vars(module).items()):
            if not (fname.startswith("test_") and callable(fn)):
                continue
            try:
                fn()
                passed += 1
            except Exception:  # noqa: BLE001 - a failing test is a result, not a crash
                failures.append(f"{path.name}::{fname}\n{traceback.format_exc(limit=4)}")
    return passed, passed + len(failures), failures


def main() -> int:
    sys.path.insert(0, str(ROOT))
    passed, total, failures = run_visible_tests()
    print(f"visible tests: {passed}/{total} passed")
    for f in failures:
        print(f"FAILED {f}")
    cases_path = ROOT / "inputs" / "cases.json"
    if not cases_path.is_file():
        print("inputs/cases.json not found: the harness makes the hidden cases before each run; "
              "only the visible tests ran")
        return 2
    cases, ctx = load_context(ROOT / "inputs")
    pkg = importlib.import_module(PACKAGE)

    outputs: dict[str, Any] = {}
    errors: Counter[str] = Counter()
    for case in cases:
        try:
            outputs[case["id"]] = to_json(compute(pkg, case, ctx))
        except Exception as e:  # noqa: BLE001 - an exception is the package's answer
            outputs[case["id"]] = {"error": type(e).__name__}
            errors[type(e).__name__] += 1
    results = {"visible": {"passed": passed, "total": total}, "outputs": outputs}
    (ROOT / "results.json").write_text(json.dumps(results))
    raised = ", ".join(f"{n} x{c}" for n, c in errors.most_common()) or "none"
    print(f"hidden cases: {len(cases)} computed; exceptions raised: {raised}")
    print("results.json written: the harness's evaluator scores it against the expected outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
