"""`rubicon horizon`: METR-style time horizons, frontier trend and forecasts.

rubicon horizon RUNS...            horizons per agent from run records
rubicon horizon --published        METR's published frontier, trend and forecast chart
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from rubicon.errors import AnalyticsError, RubiconError

DEFAULT_TARGETS = ["100h", "1 work-month"]
PUBLISHED_SINCE = "2022-01-01"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the `horizon` sub-command."""
    p = sub.add_parser(
        "horizon",
        help="METR-style time horizons, frontier trend and forecasts",
        description=(
            "Estimate per-agent 50%%/80%% time horizons from run records (METR runs.jsonl, "
            "rubicon bench JSONL, Inspect logs) with hierarchical bootstrap intervals; fit the "
            "exponential trend of the frontier and forecast when it crosses a task length. "
            "--published uses METR's published figures shipped with rubicon. "
            "See docs/HORIZONS.md."
        ),
    )
    p.add_argument("runs", nargs="*", metavar="RUNS", help="run files or directories")
    p.add_argument(
        "--published",
        action="store_true",
        help="use METR's published per-model horizons (no RUNS needed)",
    )
    p.add_argument(
        "--preset",
        default="metr-2025",
        help="named settings: metr-2025 (headline), metr-low-reg, equal (default: metr-2025)",
    )
    p.add_argument("--weighting", default=None, help="override task weighting: invsqrt | equal")
    p.add_argument(
        "--regularization", type=float, default=None, help="override the logistic L2 penalty"
    )
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap samples (0 = none)")
    p.add_argument("--seed", type=int, default=42, help="random seed")
    p.add_argument("--ci", type=float, default=0.95, help="interval coverage (default 0.95)")
    p.add_argument("--agents", default=None, help="comma-separated agents to keep")
    p.add_argument("--exclude-agents", default=None, help="comma-separated agents to drop")
    p.add_argument(
        "--drop-untimed", action="store_true", help="drop runs on tasks with no human time"
    )
    p.add_argument(
        "--release-dates",
        default=None,
        help="alias -> release date file (JSON, CSV alias,release_date, or 'alias: date' YAML)",
    )
    p.add_argument(
        "--since",
        default=None,
        help="trend uses models released on/after this date "
        f"(--published default {PUBLISHED_SINCE})",
    )
    p.add_argument(
        "--target",
        action="append",
        default=None,
        help="forecast when the trend crosses this length, e.g. 100h, '1 work-month' "
        "(repeatable; default: 100h and 1 work-month)",
    )
    p.add_argument(
        "--by",
        action="append",
        default=None,
        help="date for P(trend crosses target by date) (repeatable; default: 1 Jan of the "
        "next two years)",
    )
    p.add_argument("--plot", default=None, help="write the horizon-vs-date chart to this PNG")
    p.add_argument("--curves", default=None, help="write success-vs-length curves to this PNG")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=_run)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _fmt(minutes: float | None) -> str:
    from rubicon.analytics import format_minutes

    return "-" if minutes is None else format_minutes(minutes)


def _fmt_ci(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return "-"
    return f"{_fmt(low) if low is not None else '?'} - {_fmt(high) if high is not None else '?'}"


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    if not args.runs and not args.published:
        raise AnalyticsError(
            "give run files (METR runs.jsonl, rubicon bench .jsonl, Inspect .eval logs) or "
            "--published for METR's published figures; see `rubicon horizon --help`"
        )
    if args.runs and args.published:
        raise AnalyticsError("use either RUNS or --published, not both")
    if args.bootstrap < 0:
        raise AnalyticsError(f"--bootstrap must be >= 0, found {args.bootstrap}")
    if args.published:
        return _published(args, console)
    return _from_runs(args, console)


def _targets_and_dates(args: argparse.Namespace) -> tuple[list[tuple[str, float]], list[dt.date]]:
    from rubicon.analytics import parse_date, parse_duration

    targets = [(t, parse_duration(t)) for t in (args.target or DEFAULT_TARGETS)]
    year = dt.date.today().year
    bys = args.by or [f"{year + 1}-01-01", f"{year + 2}-01-01"]
    return targets, [parse_date(b, "--by") for b in bys]


def _trend_output(
    args: argparse.Namespace,
    console: Any,
    points: list[Any],
    samples: Any,
    title: str,
    source: str | None,
    default_plot: str | None,
    out: dict[str, Any],
) -> None:
    from rich.table import Table

    from rubicon.analytics import fit_trend, frontier, plot_frontier

    targets, bys = _targets_and_dates(args)
    front = frontier(points)
    fsamples = None
    if samples is not None:
        idx = [points.index(p) for p in front]
        fsamples = samples[:, idx]
    n_boot = args.bootstrap if args.bootstrap > 0 else 1000
    trend = fit_trend(front, samples=fsamples, n_bootstrap=n_boot, ci=args.ci, seed=args.seed)
    dd = trend.doubling_days
    t = Table(title=f"Frontier trend ({len(front)} models state of the art at release)")
    t.add_column("quantity")
    t.add_column("estimate", justify="right")
    t.add_column(f"{args.ci:.0%} interval", justify="right")
    t.add_row(
        "doubling time",
        f"{dd.value:.0f} days" if dd.value else "-",
        f"{dd.low:.0f} - {dd.high:.0f} days" if dd.low and dd.high else (dd.note or "-"),
    )
    t.add_row("R^2 (log2 horizon)", f"{trend.r_squared:.3f}", "")
    forecasts = []
    for label, minutes in targets:
        est, lo, hi = trend.crossing(minutes)
        t.add_row(
            f"trend reaches {label}",
            est.isoformat() if est else "never (no growth)",
            f"{lo.isoformat() if lo else '?'} - {hi.isoformat() if hi else 'not bounded'}",
        )
        probs = {}
        for by in bys:
            pr = trend.probability_by(minutes, by)
            probs[by.isoformat()] = pr
            t.add_row(f"  P(reached by {by.isoformat()})", f"{pr:.0%}", "")
        forecasts.append(
            {
                "target": label,
                "minutes": minutes,
                "date": est.isoformat() if est else None,
                "low": lo.isoformat() if lo else None,
                "high": hi.isoformat() if hi else None,
                "probability_by": probs,
            }
        )
    out["trend"] = {
        "frontier": [p.name for p in front],
        "doubling_days": dd.value,
        "doubling_days_low": dd.low,
        "doubling_days_high": dd.high,
        "r_squared": trend.r_squared,
        "forecasts": forecasts,
    }
    if not args.json:
        console.print(t)
    plot = args.plot or default_plot
    if plot:
        last = max(p.release_date for p in points)
        crossings = [trend.crossing(m)[0] for _, m in targets]
        until = max([last + dt.timedelta(days=365)] + [c for c in crossings if c])
        until = min(until, last + dt.timedelta(days=5 * 365))
        path = plot_frontier(
            points,
            plot,
            trend=trend,
            forecast_until=until,
            targets=[m for _, m in targets],
            title=title,
            source=source,
        )
        out["plot"] = str(path)
        if not args.json:
            console.print(f"chart written to {path}")


def _published(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from rubicon.analytics import frontier, load_published, parse_date, published_points

    since = parse_date(args.since or PUBLISHED_SINCE, "--since")
    points = published_points(0.5, since=since)
    rows = {r.model: r for r in load_published()}
    front = {p.name for p in frontier(points)}
    t = Table(title=f"METR published time horizons (models released since {since})")
    for col in ("model", "released", "50% horizon", "95% CI", "80% horizon", "frontier"):
        t.add_column(col, justify="right" if "horizon" in col or "CI" in col else "left")
    for p in points:
        r = rows[p.name]
        t.add_row(
            p.name,
            p.release_date.isoformat(),
            _fmt(r.p50),
            _fmt_ci(r.p50_low, r.p50_high),
            _fmt(r.p80),
            "yes" if p.name in front else "",
        )
    sources = sorted({rows[p.name].source for p in points})
    out: dict[str, Any] = {
        "models": [
            {
                "model": r.model,
                "release_date": r.release_date.isoformat(),
                "p50_minutes": r.p50,
                "p50_ci": [r.p50_low, r.p50_high],
                "p80_minutes": r.p80,
                "p80_ci": [r.p80_low, r.p80_high],
                "source": r.source,
                "frontier": r.model in front,
            }
            for r in (rows[p.name] for p in points)
        ]
    }
    if not args.json:
        console.print(t)
        console.print("source: " + "; ".join(sources))
    _trend_output(
        args,
        console,
        points,
        None,
        "METR published 50% time horizons: frontier, trend and forecast",
        "data: " + "; ".join(sources),
        "published_frontier.png",
        out,
    )
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def _from_runs(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from rubicon.analytics import (
        agent_points,
        estimate_horizons,
        get_settings,
        load_release_dates,
        load_runs,
        parse_date,
        plot_success_curves,
    )

    settings = get_settings(args.preset, args.weighting, args.regularization)
    records = load_runs([Path(r) for r in args.runs], drop_untimed=args.drop_untimed)
    if args.agents:
        records = records.only_agents(_csv(args.agents))
    if args.exclude_agents:
        records = records.without_agents(_csv(args.exclude_agents))
    if len(records) == 0:
        raise AnalyticsError("no runs left after filtering agents")
    if not args.json:
        with console.status(f"bootstrapping {args.bootstrap} samples..."):
            report = estimate_horizons(
                records, settings, n_bootstrap=args.bootstrap, ci=args.ci, seed=args.seed
            )
    else:
        report = estimate_horizons(
            records, settings, n_bootstrap=args.bootstrap, ci=args.ci, seed=args.seed
        )
    ci = f"{args.ci:.0%} CI"
    t = Table(
        title=f"Time horizons - {settings.name}: weighting {settings.weighting}, "
        f"regularization {settings.regularization:g}, {args.bootstrap} bootstrap samples"
    )
    for col in ("agent", "runs", "tasks", "w. success", "50% horizon", ci, "80% horizon", ci):
        t.add_column(col, justify="left" if col == "agent" else "right")
    t.add_column("note")
    out: dict[str, Any] = {
        "settings": {
            "name": settings.name,
            "weighting": settings.weighting,
            "regularization": settings.regularization,
            "n_bootstrap": args.bootstrap,
            "ci": args.ci,
            "seed": args.seed,
        },
        "notes": list(report.notes),
        "agents": [],
    }
    for a in report.agents:
        h50, h80 = a.horizon(0.5), a.horizon(0.8)
        notes = "; ".join(dict.fromkeys(n for n in (h50.reason, h80.reason) if n))
        t.add_row(
            a.agent,
            str(a.n_runs),
            str(a.n_tasks),
            f"{a.weighted_success:.4f}",
            _fmt(h50.minutes),
            _fmt_ci(h50.ci_low, h50.ci_high),
            _fmt(h80.minutes),
            _fmt_ci(h80.ci_low, h80.ci_high),
            notes,
        )
        out["agents"].append(
            {
                "agent": a.agent,
                "runs": a.n_runs,
                "tasks": a.n_tasks,
                "families": a.n_families,
                "weighted_success": a.weighted_success,
                "horizons": [
                    {
                        "level": h.level,
                        "minutes": h.minutes,
                        "ci_low": h.ci_low,
                        "ci_high": h.ci_high,
                        "reason": h.reason,
                    }
                    for h in a.horizons
                ],
            }
        )
    if not args.json:
        console.print(t)
        for n in report.notes:
            console.print(f"note: {n}")
    if args.curves:
        path = plot_success_curves(records, report, args.curves)
        out["curves"] = str(path)
        if not args.json:
            console.print(f"curves written to {path}")
    dates = dict(records.release_dates)
    if args.release_dates:
        dates.update(load_release_dates(args.release_dates))
    points, samples, skipped = agent_points(report, dates)
    if args.since:
        since = parse_date(args.since, "--since")
        keep = [i for i, p in enumerate(points) if p.release_date >= since]
        points = [points[i] for i in keep]
        samples = samples[:, keep] if samples is not None else None
    if len({p.release_date for p in points}) >= 2:
        if skipped and not args.json:
            console.print("left out of the trend: " + "; ".join(skipped))
        try:
            _trend_output(
                args,
                console,
                points,
                samples,
                "50% time horizon against release date",
                None,
                None,
                out,
            )
        except RubiconError as e:
            out["trend_error"] = str(e)
            if not args.json:
                console.print(f"no trend: {e}")
    else:
        msg = (
            "no trend: fewer than two agents have both a release date and an estimable 50% "
            "horizon (pass --release-dates FILE, or add release_date to the records)"
        )
        out["trend_error"] = msg
        if not args.json:
            console.print(msg)
        if args.plot:
            raise AnalyticsError(f"--plot needs a trend; {msg}")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0
