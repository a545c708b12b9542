"""The output format of the task contract: `key: value` lines and JSON-object lines.

An evaluator (and a task's own scripts) report metrics this way; the harness's judge and the
task authors' local checks read them with the same function.
"""

from __future__ import annotations

import json
from typing import Any


def parse_metrics(text: str) -> dict[str, Any]:
    """`key: value` lines and JSON-object lines; numbers become floats, the rest stays text."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.update(obj)
            continue
        key, sep, val = line.partition(":")
        if not sep or not key or " " in key.strip():
            continue
        val = val.strip()
        try:
            out[key.strip()] = float(val)
        except ValueError:
            out[key.strip()] = val
    return out


def gate_counts(metrics: dict[str, Any], metric: str) -> str:
    """The count behind a gate on `metric`, when the evaluator's metrics carry it
    (docs/TASKS.md, "Gates"): `answers` with `wrong` ("0 of 3 answers right"), or a fraction
    `X_passed` with `X_tests` ("2 of 5 X tests passed"); "" otherwise."""

    def num(key: str) -> float | None:
        v = metrics.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    answers, wrong = num("answers"), num("wrong")
    if answers is not None and wrong is not None and answers > 0:
        return f"{answers - wrong:.0f} of {answers:.0f} answers right"
    if metric.endswith("_passed"):
        stem = metric[: -len("_passed")]
        frac, n = num(metric), num(f"{stem}_tests")
        if frac is not None and n is not None and n > 0:
            return f"{round(frac * n)} of {n:.0f} {stem} tests passed"
    return ""


def gate_explanation(gate: str, ok: bool, value: float, metrics: dict[str, Any]) -> str:
    """"gate correct == 1: failed: 0 of 3 answers right (correct 0)" when the metrics carry the
    count behind a failed gate, else "gate correct == 1: failed (0)" (or "passed")."""
    metric = gate.split(" ", 1)[0]
    counts = "" if ok else gate_counts(metrics, metric)
    what = f"failed: {counts} ({metric} {value:.6g})" if counts else (
        f"{'passed' if ok else 'failed'} ({value:.6g})")
    return f"gate {gate}: {what}"
