"""`rubicon horizon`: METR-style time horizons, frontier trend and forecasts.

rubicon horizon RUNS...            horizons per agent from run records
rubicon horizon --published        METR's published frontier, trend and forecast chart

Every option is checked before any file is read or any bootstrap runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rubicon.errors import AnalyticsError, RubiconError

DEFAULT_TARGETS = ["100h", "1 work-month"]
PUBLISHED_SINCE = "2022-01-01"
PLOT_SUFFIXES = (".png", ".html")


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
    p.add_argument(
        "--horizon-ci", default=None,
        help="per-agent interval rule: metr (METR's code; preset default) | censored",
    )
    p.add_argument(
        "--trend-ci", default=None,
        help="trend interval rule: metr (fixed frontier, METR's code; preset default) | "
        "resample-models",
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
        "--skip-errored", action="store_true",
        help="leave out Inspect samples that errored (counted and reported)",
    )
    p.add_argument(
        "--release-dates",
        default=None,
        help="alias -> release date file (JSON, CSV alias,release_date, or 'alias: date' YAML; "
        "default: release_dates.yaml/.yml/.json/.csv beside the first RUNS file that has one)",
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
        help="forecast when the trend crosses this length, e.g. 100h, '1 work-month', "
        "'2 days' (day/week/month = 8/40/167 h of work; repeatable; default: 100h and "
        "1 work-month)",
    )
    p.add_argument(
        "--by",
        action="append",
        default=None,
        help="date for P(trend crosses target by date) (repeatable; default: 1 Jan of the "
        "next two years)",
    )
    p.add_argument(
        "--plot", default=None,
        help="write the horizon-vs-date chart: .png, or .html (interactive, self-contained); "
        "no chart without it",
    )
    p.add_argument("--curves", default=None, help="write success-vs-length curves to this PNG")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=_run)


@dataclass(frozen=True)
class Options:
    """Every option, parsed and checked before any work."""

    settings: Any
    targets: list[tuple[str, float]]
    readings: list[str]
    bys: list[dt.date]
    since: dt.date | None
    release_dates: dict[str, dt.date]
    release_dates_file: str | None = None  # where release_dates came from (None: nowhere)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _fmt(minutes: float | None) -> str:
    from rubicon.analytics import format_minutes

    return "-" if minutes is None else format_minutes(minutes)


def _fmt_ci(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return "-"
    return f"{_fmt(low) if low is not None else '?'} - {_fmt(high) if high is not None else '?'}"


def _check_output(flag: str, value: str | None, suffixes: tuple[str, ...]) -> None:
    if value is not None and Path(value).suffix.lower() not in suffixes:
        raise AnalyticsError(
            f"{flag} {value}: charts are written as {' or '.join(suffixes)}; use a file name "
            f"ending in {' or '.join(suffixes)}"
        )


def _options(args: argparse.Namespace) -> Options:
    from rubicon.analytics import (
        duration_reading,
        get_settings,
        load_release_dates,
        parse_date,
        parse_duration,
    )

    if not args.runs and not args.published:
        raise AnalyticsError(
            "give run files (METR runs.jsonl, rubicon bench .jsonl, Inspect .eval logs) or "
            "--published for METR's published figures; see `rubicon horizon --help`"
        )
    if args.runs and args.published:
        raise AnalyticsError("use either RUNS or --published, not both")
    if args.bootstrap < 0:
        raise AnalyticsError(f"--bootstrap must be >= 0, found {args.bootstrap}")
    if not 0 < args.ci < 1:
        raise AnalyticsError(f"--ci must be between 0 and 1 (e.g. 0.95), found {args.ci}")
    settings = get_settings(args.preset, args.weighting, args.regularization,
                            args.horizon_ci, args.trend_ci)
    texts = args.target or DEFAULT_TARGETS
    targets = [(t, parse_duration(t)) for t in texts]
    readings = [r for r in (duration_reading(t) for t in texts) if r]
    year = dt.date.today().year
    bys = [parse_date(b, "--by") for b in (args.by or [f"{year + 1}-01-01", f"{year + 2}-01-01"])]
    since_text = args.since or (PUBLISHED_SINCE if args.published else None)
    since = parse_date(since_text, "--since") if since_text else None
    _check_output("--plot", args.plot, PLOT_SUFFIXES)
    _check_output("--curves", args.curves, (".png",))
    if args.published and (args.curves or args.release_dates):
        raise AnalyticsError("--curves and --release-dates need RUNS; --published has no runs")
    dates_file = args.release_dates or (None if args.published else beside_runs(args.runs))
    dates = load_release_dates(dates_file) if dates_file else {}
    return Options(settings, targets, readings, bys, since, dates, dates_file)


RELEASE_DATES_NAMES = ("release_dates.yaml", "release_dates.yml", "release_dates.json",
                       "release_dates.csv")


def beside_runs(runs: list[str]) -> str | None:
    """A release-dates file next to the runs (METR ships release_dates.yaml beside its runs
    file): the first of RELEASE_DATES_NAMES in the directory of a RUNS file, or in a RUNS
    directory."""
    for r in runs:
        where = Path(r) if Path(r).is_dir() else Path(r).parent
        for name in RELEASE_DATES_NAMES:
            if (where / name).is_file():
                return str(where / name)
    return None


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    opts = _options(args)
    console = Console()
    if args.published:
        return _published(args, opts, console)
    return _from_runs(args, opts, console)


def _trend_output(
    args: argparse.Namespace,
    opts: Options,
    console: Any,
    points: list[Any],
    samples: Any,
    title: str,
    source: str | None,
    default_plot: str | None,
    out: dict[str, Any],
) -> None:
    from rich.table import Table

    from rubicon.analytics import fit_trend, frontier

    front = frontier(points)
    fsamples = None
    if samples is not None:
        idx = [points.index(p) for p in front]
        fsamples = samples[:, idx]
    n_boot = args.bootstrap if args.bootstrap > 0 else 1000
    trend = fit_trend(front, samples=fsamples, n_bootstrap=n_boot, ci=args.ci, seed=args.seed,
                      method=opts.settings.trend_ci)
    dd = trend.doubling_days
    t = Table(title=f"Frontier trend ({len(front)} models state of the art at release; "
                    f"trend CI: {trend.method})")
    t.add_column("quantity")
    t.add_column("estimate", justify="right")
    t.add_column(f"{args.ci:.0%} interval", justify="right")
    t.add_row(
        "doubling time",
        f"{dd.value:.0f} days" if dd.value else "-",
        f"{dd.low:.0f} - {dd.high:.0f} days" if dd.low and dd.high else "-",
    )
    t.add_row("R^2 (log2 horizon)", f"{trend.r_squared:.3f}", "")
    forecasts = []
    for label, minutes in opts.targets:
        est, lo, hi = trend.crossing(minutes)
        t.add_row(
            f"trend reaches {label}",
            est.isoformat() if est else "never (no growth)",
            f"{lo.isoformat() if lo else '?'} - {hi.isoformat() if hi else 'not bounded'}",
        )
        probs = {}
        for by in opts.bys:
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
        "method": trend.method,
        "doubling_days": dd.value,
        "doubling_days_low": dd.low,
        "doubling_days_high": dd.high,
        "doubling_note": dd.note,
        "r_squared": trend.r_squared,
        "forecasts": forecasts,
    }
    if not args.json:
        console.print(t)
        for note in ([dd.note] if dd.note else []) + opts.readings:
            console.print(f"note: {note}")
    plot = args.plot or default_plot
    if plot:
        _plot(plot, points, trend, opts, title, source, out, console, args.json)


def _plot(plot: str, points: list[Any], trend: Any, opts: Options, title: str,
          source: str | None, out: dict[str, Any], console: Any, quiet: bool) -> None:
    from rubicon.analytics import plot_frontier, write_frontier_html

    last = max(p.release_date for p in points)
    crossings = [trend.crossing(m)[0] for _, m in opts.targets]
    until = max([last + dt.timedelta(days=365)] + [c for c in crossings if c])
    until = min(until, last + dt.timedelta(days=5 * 365))
    kw = dict(trend=trend, forecast_until=until, targets=[m for _, m in opts.targets],
              title=title, source=source)
    if Path(plot).suffix.lower() == ".html":
        path = write_frontier_html(points, plot, **kw)
    else:
        path = plot_frontier(points, plot, **kw)
    out["plot"] = str(path)
    if not quiet:
        console.print(f"chart written to {path}")


def _published(args: argparse.Namespace, opts: Options, console: Any) -> int:
    from rich.table import Table

    from rubicon.analytics import frontier, load_published, published_points

    points = published_points(0.5, since=opts.since)
    rows = {r.model: r for r in load_published()}
    front = {p.name for p in frontier(points)}
    t = Table(title=f"METR published time horizons (models released since {opts.since})")
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
        args, opts, console, points, None,
        "METR published 50% time horizons: frontier, trend and forecast",
        "data: " + "; ".join(sources),
        None,
        out,
    )
    if not args.plot and not args.json:
        console.print("chart: add --plot FILE.png (or .html) to draw the frontier and the trend")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def _agent_json(a: Any) -> dict[str, Any]:
    return {
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
                "fitted_minutes": h.fitted_minutes,
            }
            for h in a.horizons
        ],
    }


def _from_runs(args: argparse.Namespace, opts: Options, console: Any) -> int:
    from rich.table import Table

    from rubicon.analytics import agent_points, estimate_horizons, load_runs, plot_success_curves

    settings = opts.settings
    records = load_runs([Path(r) for r in args.runs], drop_untimed=args.drop_untimed,
                        skip_errored=args.skip_errored)
    if args.agents:
        records = records.only_agents(_csv(args.agents))
    if args.exclude_agents:
        records = records.without_agents(_csv(args.exclude_agents))
    if len(records) == 0:
        raise AnalyticsError("no runs left after filtering agents")
    kw = dict(n_bootstrap=args.bootstrap, ci=args.ci, seed=args.seed)
    if not args.json:
        with console.status(f"bootstrapping {args.bootstrap} samples..."):
            report = estimate_horizons(records, settings, **kw)
    else:
        report = estimate_horizons(records, settings, **kw)
    ci = f"{args.ci:.0%} CI"
    t = Table(
        title=f"Time horizons - {settings.name}: weighting {settings.weighting}, "
        f"regularization {settings.regularization:g}, {args.bootstrap} bootstrap samples, "
        f"horizon CI: {settings.horizon_ci}"
    )
    for col in ("agent", "runs", "tasks", "w. success", "50% horizon", ci, "80% horizon", ci):
        t.add_column(col, justify="left" if col == "agent" else "right")
    t.add_column("note")
    out: dict[str, Any] = {
        "settings": {
            "name": settings.name,
            "weighting": settings.weighting,
            "regularization": settings.regularization,
            "horizon_ci": settings.horizon_ci,
            "trend_ci": settings.trend_ci,
            "n_bootstrap": args.bootstrap,
            "ci": args.ci,
            "seed": args.seed,
        },
        "notes": list(report.notes),
        "agents": [_agent_json(a) for a in report.agents],
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
    if not args.json:
        console.print(t)
        for n in report.notes:
            console.print(f"note: {n}")
    if args.curves:
        path = plot_success_curves(records, report, args.curves)
        out["curves"] = str(path)
        if not args.json:
            console.print(f"curves written to {path}")
    dates = {**records.release_dates, **opts.release_dates}
    if opts.release_dates_file:
        out["release_dates_file"] = opts.release_dates_file
        if not args.release_dates and not args.json:
            console.print(f"release dates from {opts.release_dates_file} (found beside the runs; "
                          "--release-dates FILE gives another)")
    points, samples, skipped = agent_points(report, dates)
    if opts.since:
        keep = [i for i, p in enumerate(points) if p.release_date >= opts.since]
        points = [points[i] for i in keep]
        samples = samples[:, keep] if samples is not None else None
    if len({p.release_date for p in points}) >= 2:
        if skipped and not args.json:
            console.print("left out of the trend: " + "; ".join(skipped))
        try:
            _trend_output(args, opts, console, points, samples,
                          "50% time horizon against release date", None, None, out)
        except RubiconError as e:
            if args.plot:
                raise AnalyticsError(f"--plot needs a trend; {e}") from None
            out["trend_error"] = str(e)
            if not args.json:
                console.print(f"no trend: {e}")
    else:
        msg = (
            "no trend: fewer than two agents have both a release date and an estimable 50% "
            "horizon (pass --release-dates FILE, put one of "
            f"{', '.join(RELEASE_DATES_NAMES[::2])} beside the runs file, or add release_date "
            "to the records)"
        )
        out["trend_error"] = msg
        if args.plot:
            raise AnalyticsError(f"--plot needs a trend; {msg}")
        if not args.json:
            console.print(msg)
    if args.json:
        print(json.dumps(out, indent=2))
    return 0
