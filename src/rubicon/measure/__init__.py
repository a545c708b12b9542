"""Measure: pure judgement over facts. Judging a trial's facts into a state, statistics, the
promotion rule. Imports no runner: the runner's facts arrive as records (rubicon.types)."""

from rubicon.measure.judge import (
    TrialJudge,
    check_gates,
    judge_evaluation,
    judge_run,
    parse_metrics,
)
from rubicon.measure.protocol import ProtocolConfig, Verdict, compare
from rubicon.measure.stats import PairedEstimate, paired_log_ratio

__all__ = [
    "PairedEstimate",
    "ProtocolConfig",
    "TrialJudge",
    "Verdict",
    "check_gates",
    "compare",
    "judge_evaluation",
    "judge_run",
    "paired_log_ratio",
    "parse_metrics",
]
