"""PNG plots of a bench: best score against time for every attempt, one panel per task."""

from __future__ import annotations

from rubicon.bench._manifest import Attempt, BenchPlan

COLOURS = ("#1f5fbf", "#d1495b", "#1e8e3e", "#e0a800", "#6639ba", "#00798c", "#8a5a44")


def curves_png(plan: BenchPlan, attempts: list[Attempt]) -> bytes:
    """Best normalized score so far against the attempt's active minutes: one line per
    attempt (colour: researcher), dotted lines at the task's levels, a cross where an attempt
    failed (it scores 0)."""
    from rubicon.report.plots import _figure, _png

    n = len(plan.tasks)
    fig, axes = _figure(8.5, 2.9 * n + 0.4, rows=n)
    colour = {r.label: COLOURS[i % len(COLOURS)] for i, r in enumerate(plan.researchers)}
    budget = plan.config.get("budget_seconds")
    for ax, task in zip(axes, plan.tasks, strict=True):
        top = 1.05
        for lv in task.levels:
            ax.axhline(lv.score, color="#8a94a6", lw=0.6, ls=":")
            ax.text(1.0, lv.score, f" {lv.name}", transform=ax.get_yaxis_transform(),
                    fontsize=7, color="#5b6472", va="center", ha="left")
            top = max(top, lv.score + 0.05)
        labelled: set[str] = set()
        for att in attempts:
            if att.task != task.name or not att.done:
                continue
            c = colour.get(att.researcher, "#333")
            label = None if att.researcher in labelled else plan.alias(att.researcher)
            labelled.add(att.researcher)
            end = att.wall_seconds / 60
            if att.status == "failed" or att.result is None:
                ax.plot([0, end], [0, 0], color=c, lw=1, ls="--", alpha=0.7, label=label)
                ax.plot([end], [0], marker="x", color="#d1495b", ms=7)
                continue
            xs, ys = [0.0], [0.0]
            for t, s in att.result.curve:
                xs += [t / 60, t / 60]
                ys += [ys[-1], s]
            xs.append(max(end, xs[-1]))
            ys.append(ys[-1])
            ax.plot(xs, ys, color=c, lw=1.4, alpha=0.85, label=label, drawstyle="default")
            top = max(top, max(ys) + 0.05)
        ends = [a.wall_seconds / 60 for a in attempts if a.task == task.name and a.done]
        right = max(ends, default=1.0) * 1.05
        if budget and budget / 60 <= right * 1.5:  # the budget line when attempts came near it
            ax.axvline(budget / 60, color="#5b6472", lw=0.8, ls="--")
            right = max(right, budget / 60 * 1.03)
        ax.set_xlim(0, right)
        ax.set_ylim(min(-0.05, ax.get_ylim()[0]), top)
        ax.set_title(f"{task.name}: best confirmed score during each attempt", fontsize=9,
                     loc="left")
        ax.set_ylabel("normalized score", fontsize=8)
        ax.grid(True, alpha=0.25)
        if labelled:
            ax.legend(fontsize=7, loc="lower right")
    axes[-1].set_xlabel("minutes of the attempt", fontsize=8)
    return _png(fig)


__all__ = ["curves_png"]
