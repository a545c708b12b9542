"""Capability analytics: METR-style time horizons, trends and forecasts (pure functions).

Typical use::

    from rubicon.analytics import load_runs, estimate_horizons
    report = estimate_horizons(load_runs("runs.jsonl"), "metr-2025", n_bootstrap=1000)

Plots (:func:`plot_frontier`, :func:`plot_success_curves`) import matplotlib lazily.
"""

from __future__ import annotations

from rubicon.analytics._loading import load_release_dates, load_runs
from rubicon.analytics._records import (
    RunRecords,
    parse_date,
    records_from_rows,
)
from rubicon.analytics.bootstrap import hierarchical_counts
from rubicon.analytics.horizon import (
    AgentHorizons,
    Horizon,
    HorizonReport,
    agent_points,
    estimate_horizons,
)
from rubicon.analytics.html_chart import write_frontier_html
from rubicon.analytics.logistic import LogisticFit, fit_logistic
from rubicon.analytics.plots import plot_frontier, plot_success_curves
from rubicon.analytics.published import PublishedHorizon, load_published, published_points
from rubicon.analytics.settings import PRESETS, HorizonSettings, get_settings
from rubicon.analytics.trend import (
    WORK_MONTH_MINUTES,
    Interval,
    ModelPoint,
    Trend,
    duration_reading,
    fit_trend,
    format_minutes,
    frontier,
    parse_duration,
)
from rubicon.analytics.weighting import raw_weights, task_weights, weighted_success

__all__ = [
    "PRESETS",
    "WORK_MONTH_MINUTES",
    "AgentHorizons",
    "Horizon",
    "HorizonReport",
    "HorizonSettings",
    "Interval",
    "LogisticFit",
    "ModelPoint",
    "PublishedHorizon",
    "RunRecords",
    "Trend",
    "agent_points",
    "duration_reading",
    "estimate_horizons",
    "fit_logistic",
    "fit_trend",
    "format_minutes",
    "frontier",
    "get_settings",
    "hierarchical_counts",
    "load_published",
    "load_release_dates",
    "load_runs",
    "parse_date",
    "parse_duration",
    "plot_frontier",
    "plot_success_curves",
    "published_points",
    "raw_weights",
    "records_from_rows",
    "task_weights",
    "weighted_success",
    "write_frontier_html",
]
