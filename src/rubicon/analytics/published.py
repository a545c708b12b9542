"""METR's published per-model time horizons, shipped as a small table with sources.

The table (``data/published_horizons.csv``) was typed in by hand from METR's Time Horizon 1.1
results after METR's 2026-03-03 regularization fix (and METR's Time Horizon 1.0 results for the
three pre-2023 models); each row names its source.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from importlib import resources

from rubicon.analytics.trend import ModelPoint
from rubicon.errors import AnalyticsError


@dataclass(frozen=True)
class PublishedHorizon:
    """One published row.

    Attributes:
        model: model name.
        release_date: model release date.
        p50: 50% horizon, minutes; p50_low/p50_high its 95% interval.
        p80: 80% horizon, minutes; p80_low/p80_high its 95% interval.
        benchmark: METR benchmark version.
        source: where the numbers come from.
    """

    model: str
    release_date: dt.date
    p50: float
    p50_low: float
    p50_high: float
    p80: float
    p80_low: float
    p80_high: float
    benchmark: str
    source: str


def load_published() -> list[PublishedHorizon]:
    """Read the packaged table of METR's published horizons, ordered by release date.

    Returns:
        The rows.
    """
    text = resources.files("rubicon.analytics").joinpath("data/published_horizons.csv")
    lines = [ln for ln in text.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    out = []
    for r in csv.DictReader(lines):
        out.append(
            PublishedHorizon(
                model=r["model"],
                release_date=dt.date.fromisoformat(r["release_date"]),
                p50=float(r["p50_minutes"]),
                p50_low=float(r["p50_ci_low"]),
                p50_high=float(r["p50_ci_high"]),
                p80=float(r["p80_minutes"]),
                p80_low=float(r["p80_ci_low"]),
                p80_high=float(r["p80_ci_high"]),
                benchmark=r["benchmark"],
                source=r["source"],
            )
        )
    return sorted(out, key=lambda p: (p.release_date, p.model))


def published_points(level: float = 0.5, since: dt.date | None = None) -> list[ModelPoint]:
    """Published horizons as trend points.

    Args:
        level: 0.5 or 0.8.
        since: keep models released on or after this date.

    Returns:
        One :class:`ModelPoint` per model.

    Raises:
        AnalyticsError: a level other than 0.5 or 0.8.
    """
    if level not in (0.5, 0.8):
        raise AnalyticsError(f"published horizons exist for levels 0.5 and 0.8, not {level}")
    pts = []
    for p in load_published():
        if since is not None and p.release_date < since:
            continue
        if level == 0.5:
            pts.append(ModelPoint(p.model, p.release_date, p.p50, p.p50_low, p.p50_high))
        else:
            pts.append(ModelPoint(p.model, p.release_date, p.p80, p.p80_low, p.p80_high))
    return pts
