"""Measure: turn run facts into verdicts. Trials, the evaluator, statistics, the promotion rule."""

from rubicon.measure.protocol import ProtocolConfig, Verdict, compare
from rubicon.measure.stats import PairedEstimate, paired_log_ratio
from rubicon.measure.trial import Trial, TrialRunner

__all__ = [
    "PairedEstimate",
    "ProtocolConfig",
    "Trial",
    "TrialRunner",
    "Verdict",
    "compare",
    "paired_log_ratio",
]
