"""Named analysis settings: task weighting and logistic regularization.

The logistic fit minimises ``sum_i w_i * logloss_i + (regularization / 2) * slope**2`` with the
per-agent weights summing to 1 - the same objective as scikit-learn's
``LogisticRegression(C=1/regularization)`` that METR uses (intercept unpenalised).
"""

from __future__ import annotations

from dataclasses import dataclass

from rubicon.analytics.weighting import check_weighting
from rubicon.errors import AnalyticsError


@dataclass(frozen=True)
class HorizonSettings:
    """How horizons are estimated.

    Attributes:
        name: preset name, or ``custom``.
        weighting: ``invsqrt`` or ``equal`` task weighting.
        regularization: L2 penalty on the logistic slope (0 = plain maximum likelihood).
        description: one line for reports.
    """

    name: str
    weighting: str
    regularization: float
    description: str = ""


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
    "equal": HorizonSettings("equal", "equal", 0.1, "equal weight per task, regularization 0.1"),
}
DEFAULT_PRESET = "metr-2025"


def get_settings(
    preset: str = DEFAULT_PRESET,
    weighting: str | None = None,
    regularization: float | None = None,
) -> HorizonSettings:
    """Return a preset, optionally overriding its weighting or regularization.

    Args:
        preset: one of :data:`PRESETS`.
        weighting: override ``invsqrt``/``equal``.
        regularization: override the L2 penalty (>= 0).

    Returns:
        The settings; named ``custom`` when something was overridden.

    Raises:
        AnalyticsError: unknown preset or weighting, negative regularization.
    """
    if preset not in PRESETS:
        raise AnalyticsError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    s = PRESETS[preset]
    if weighting is None and regularization is None:
        return s
    w = check_weighting(weighting) if weighting is not None else s.weighting
    r = s.regularization if regularization is None else float(regularization)
    if not r >= 0:
        raise AnalyticsError(f"regularization must be >= 0, found {regularization}")
    if w == s.weighting and r == s.regularization:
        return s
    return HorizonSettings("custom", w, r, f"{preset} with weighting {w}, regularization {r:g}")
