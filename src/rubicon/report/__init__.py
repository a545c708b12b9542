"""See a campaign: a self-contained HTML report with PNG plots, and a live dashboard.

Both read the store read-only (`open_read_only`) and never write to it.

    from rubicon.report import write_report
    write_report("rubicon-runs", out="report/index.html")   # latest campaign
"""

from __future__ import annotations

import base64
from pathlib import Path

from rubicon.report._data import CampaignView, campaign_view, open_read_only

__all__ = ["CampaignView", "campaign_view", "default_out", "open_read_only", "write_report"]


def _png_name(out: Path, name: str) -> Path:
    prefix = "" if out.stem == "index" else f"{out.stem}_"
    return out.with_name(f"{prefix}{name}.png")


REPORT_DIR = "report"  # the default report's directory, inside the campaign directory


def default_out(directory: str | Path) -> Path:
    """Where a report goes when no `out` is given: `<campaign dir>/report/index.html` (the
    directory holding the store; `directory` may name the .db file)."""
    d = Path(directory)
    return (d.parent if d.suffix == ".db" else d) / REPORT_DIR / "index.html"


def write_report(directory: str | Path, campaign: str | None = None,
                 out: str | Path | None = None) -> Path:
    """Write one self-contained HTML report of a campaign (images embedded as base64), plus
    the same plots as PNG files next to it. Returns the HTML path.

    Args:
        directory: campaign directory holding the store (or the .db file).
        campaign: campaign id or unique prefix; None for the most recent campaign.
        out: the HTML file to write; its parent directory is created (default:
            `default_out(directory)`, i.e. `<directory>/report/index.html`).
    """
    from rubicon.report.html import report_page
    from rubicon.report.plots import PLOTS

    store = open_read_only(directory)
    try:
        view = campaign_view(store, campaign)
    finally:
        store.close()
    path = Path(out) if out is not None else default_out(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    uris: dict[str, str] = {}
    for name, draw in PLOTS.items():
        png = draw(view)
        _png_name(path, name).write_bytes(png)
        uris[name] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    path.write_text(report_page(view, lambda name: uris[name]), encoding="utf-8")
    return path
