"""Named analysis settings: task weighting, logistic regularization and interval rules.

The logistic fit minimises ``sum_i w_i * logloss_i + (regularization / 2) * slope**2`` with the
per-agent weights summing to 1 - the same objective as scikit-learn's
``LogisticRegression(C=1/regularization)`` that METR uses (intercept unpenalised).

Interval rules (both default to METR's code, ``metr``):

* ``horizon_ci`` - per-agent horizon intervals. ``metr``: a resample in which the agent has
  no successes or no failures is left out; a resample whose fitted slope is >= 0 keeps the
  formula's value (logit(p) - intercept) / slope; percentiles are taken on minutes.
  ``censored``: such resamples count as a horizon of 0 (no successes, or a flat curve below p)
  or infinity (no failures, or a flat curve above p); percentiles on log2 minutes; a bound
  that falls on 0 or infinity is reported as not estimable.
* ``trend_ci`` - doubling-time and forecast intervals. ``metr``: the frontier models stay
  fixed; each bootstrap sample refits the trend to the models' resampled horizons (dropping,
  per sample, horizons that are missing, infinite or under 0.001 min); samples with a
  non-positive slope are left out of the doubling-time interval. ``resample-models``: also
  resample the frontier models with replacement; a non-positive slope counts as an infinite
  doubling time.
"""

from __future__ import annotations

from dataclasses import dataclass

from rubicon.analytics.weighting import check_weighting
from rubicon.errors import AnalyticsError

HORIZON_CI = ("metr", "censored")
TREND_CI = ("metr", "resample-models")


@dataclass(frozen=True)
class HorizonSettings:
    """How horizons are estimated.

    Attributes:
        name: preset name, or ``custom``.
        weighting: ``invsqrt`` or ``equal`` task weighting.
        regularization: L2 penalty on the logistic slope (0 = plain maximum likelihood).
        description: one line for reports.
        horizon_ci: per-agent interval rule, ``metr`` or ``censored`` (module docstring).
        trend_ci: trend interval rule, ``metr`` or ``resample-models`` (module docstring).
    """

    name: str
    weighting: str
    regularization: float
    description: str = ""
    horizon_ci: str = "metr"
    trend_ci: str = "metr"


PRESETS: dict[str, HorizonSettings] = {
    "metr-2025": HorizonSettings(
        "metr-2025",
        "invsqrt",
        0.1,
        "METR headline (Kwa et al. 2025, 'Measuring AI Ability to Complete Long Tasks'): "
        "inverse-sqrt family weighting, regularization 0.1",
    ),
    "metr-low-reg": HorizonSettings(
        "metr-low-reg",
        "invsqrt",
        0.01,
        "METR weighting with 10x weaker regularization (0.01, the lowest value of METR's "
        "robustness sweep), in the spirit of METR's 2026-03-03 regularization fix",
    ),
    "equal": HorizonSettings(
        "equal", "equal", 0.1, "METR's equal-task-weight setting: equal weight per task, "
        "regularization 0.1"
    ),
}
DEFAULT_PRESET = "metr-2025"


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise AnalyticsError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    return value


def get_settings(
    preset: str = DEFAULT_PRESET,
    weighting: str | None = None,
    regularization: float | None = None,
    horizon_ci: str | None = None,
    trend_ci: str | None = None,
) -> HorizonSettings:
    """Return a preset, optionally overriding any of its fields.

    Args:
        preset: one of :data:`PRESETS`.
        weighting: override ``invsqrt``/``equal``.
        regularization: override the L2 penalty (>= 0).
        horizon_ci: override the per-agent interval rule (``metr``/``censored``).
        trend_ci: override the trend interval rule (``metr``/``resample-models``).

    Returns:
        The settings; named ``custom`` when something was overridden.

    Raises:
        AnalyticsError: unknown preset, weighting or rule, negative regularization.
    """
    if preset not in PRESETS:
        raise AnalyticsError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    s = PRESETS[preset]
    w = check_weighting(weighting) if weighting is not None else s.weighting
    r = s.regularization if regularization is None else float(regularization)
    if not r >= 0:
        raise AnalyticsError(f"regularization must be >= 0, found {regularization}")
    hci = s.horizon_ci if horizon_ci is None else _choice(horizon_ci, HORIZON_CI, "--horizon-ci")
    tci = s.trend_ci if trend_ci is None else _choice(trend_ci, TREND_CI, "--trend-ci")
    if (w, r, hci, tci) == (s.weighting, s.regularization, s.horizon_ci, s.trend_ci):
        return s
    return HorizonSettings(
        "custom", w, r,
        f"{preset} with weighting {w}, regularization {r:g}, horizon CI {hci}, trend CI {tci}",
        hci, tci,
    )
