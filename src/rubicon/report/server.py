"""The live dashboard: FastAPI over the store, read-only, polled by the page.

Every request opens its own read-only connection (`open_read_only`, SQLite `mode=ro`), so the
dashboard can never write and always sees what the running campaign has committed. The page
polls `/api/campaign/<id>/view?since=<token>`, which answers with new HTML only when the
campaign changed. FastAPI and uvicorn are imported lazily (`pip install 'rubicon[serve]'`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import Any

from rubicon.errors import RubiconError, StoreError
from rubicon.report._data import campaign_view, fingerprint, live_run, open_read_only
from rubicon.store import Store, store_path

INSTALL = "pip install 'rubicon[serve]'"


def require_serve() -> tuple[Any, Any]:
    """Import (fastapi, uvicorn) or raise a RubiconError naming the install command."""
    try:
        import fastapi
        import uvicorn
    except ImportError as e:
        raise RubiconError(
            f"the dashboard needs FastAPI and uvicorn ({e.name} is missing): {INSTALL}"
        ) from None
    return fastapi, uvicorn


_WAITING = """<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>rubicon</title>
<style>{css}</style></head><body><h1>rubicon dashboard</h1>
<p class="sub" id="waiting">{message}</p>
<script>
setInterval(function () {{
  fetch("/api/campaigns").then(function (r) {{ return r.json(); }}).then(function (d) {{
    if (d.campaigns && d.campaigns.length) location.reload();
  }}).catch(function () {{}});
}}, {poll_ms});
</script></body></html>"""


class _PlotCache:
    """PNG bytes keyed by (campaign, plot, change token); keeps the newest few."""

    def __init__(self, size: int = 48) -> None:
        self.size = size
        self.items: dict[tuple[str, str, str], bytes] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> bytes | None:
        with self.lock:
            return self.items.get(key)

    def put(self, key: tuple[str, str, str], png: bytes) -> None:
        with self.lock:
            self.items[key] = png
            while len(self.items) > self.size:
                self.items.pop(next(iter(self.items)))


def live_token(token: str, live: dict[str, Any] | None) -> str:
    """The view's change token, moved on by every progress line of the run going on now."""
    return token if live is None else f"{token}|{live.get('experiment')}:{live['step']}/{live['total']}"


def create_app(directory: str | Path, poll_ms: int = 1500) -> Any:
    """The dashboard as an ASGI app over the store in `directory` (which may not exist yet)."""
    fastapi, _ = require_serve()
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    from rubicon.report.html import dashboard_page, experiment_page, static_text, view_fragment
    from rubicon.report.plots import PLOTS

    app = fastapi.FastAPI(title="rubicon dashboard", docs_url=None, redoc_url=None)
    cache = _PlotCache()
    root = Path(directory)

    @contextmanager
    def store() -> Iterator[Store]:
        s = open_read_only(root)
        try:
            yield s
        finally:
            s.close()

    def not_found(e: Exception, as_html: bool = False) -> Any:
        if as_html:
            return HTMLResponse(f"<h1>not found</h1><p>{escape(str(e))}</p>", status_code=404)
        return JSONResponse({"error": str(e)}, status_code=404)

    def waiting(message: str) -> Any:
        return HTMLResponse(_WAITING.format(css=static_text("report.css"), poll_ms=poll_ms,
                                            message=escape(message)))

    def index(campaign: str | None = None) -> Any:
        try:
            with store() as s:
                campaigns = s.campaigns()
                if campaigns:
                    view = campaign_view(s, campaign)
                    token, _ = fingerprint(s, view.info.id)
                    live = live_run(s, root, view.info)
                    token = live_token(token, live)
        except StoreError as e:
            if store_exists():
                return not_found(e, as_html=True)
            campaigns = []
        if not campaigns:
            return waiting(f"no campaign in {root} yet; this page reloads when one starts")
        return HTMLResponse(dashboard_page(view, campaigns, token, poll_ms, live))

    def store_exists() -> bool:
        return store_path(root).exists()

    def api_campaigns() -> Any:
        try:
            with store() as s:
                out = [{"id": c.id, "task": c.task_name, "researcher": c.researcher,
                        "status": c.status, "created_at": c.created_at} for c in s.campaigns()]
        except StoreError:
            out = []
        return {"campaigns": out}

    def api_campaign(cid: str) -> Any:
        try:
            with store() as s:
                view = campaign_view(s, cid)
                token, _ = fingerprint(s, view.info.id)
        except StoreError as e:
            return not_found(e)
        return {"token": token, **view.summary_json()}

    def api_view(cid: str, since: str = "") -> Any:
        try:
            with store() as s:
                info = s.campaign(cid)
                stored, done = fingerprint(s, info.id)  # plots change only with the store
                live = live_run(s, root, info)
                token = live_token(stored, live)
                if token == since:
                    return {"token": token, "done": done, "status": info.status, "html": None}
                view = campaign_view(s, info.id)
        except StoreError as e:
            return not_found(e)
        return {"token": token, "done": done, "status": info.status,
                "html": view_fragment(view, stored, live)}

    def plot(cid: str, name: str, v: str = "") -> Any:
        draw = PLOTS.get(name)
        if draw is None:
            return not_found(KeyError(f"no plot {name!r}; plots: {sorted(PLOTS)}"))
        try:
            with store() as s:
                info = s.campaign(cid)
                token, _ = fingerprint(s, info.id)
                png = cache.get((info.id, name, token))
                if png is None:
                    png = draw(campaign_view(s, info.id))
                    cache.put((info.id, name, token), png)
        except StoreError as e:
            return not_found(e)
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "max-age=3600" if v == token else "no-cache"})

    def experiment(eid: int) -> Any:
        from rubicon.workspace import diff_files

        try:
            with store() as s:
                e = s.experiment(eid)
                info = s.campaign(e.campaign_id)
                base_diff = None
                if (info.baseline_id is not None and e.id != info.baseline_id
                        and e.parent_id != info.baseline_id):
                    base = s.experiment(info.baseline_id, runs=False)
                    base_diff = diff_files(base.files, e.files, "baseline", f"#{e.id}")
        except StoreError as err:
            return not_found(err, as_html=True)
        return HTMLResponse(experiment_page(e, info, base_diff))

    def api_experiment(eid: int) -> Any:
        try:
            with store() as s:
                e = s.experiment(eid)
        except StoreError as err:
            return not_found(err)
        return JSONResponse(json.loads(e.model_dump_json()))

    app.add_api_route("/", index, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/api/campaigns", api_campaigns, methods=["GET"])
    app.add_api_route("/api/campaign/{cid}", api_campaign, methods=["GET"])
    app.add_api_route("/api/campaign/{cid}/view", api_view, methods=["GET"])
    app.add_api_route("/plot/{cid}/{name}.png", plot, methods=["GET"])
    app.add_api_route("/experiment/{eid}", experiment, methods=["GET"],
                      response_class=HTMLResponse)
    app.add_api_route("/api/experiment/{eid}", api_experiment, methods=["GET"])
    return app


def serve(directory: str | Path, host: str = "127.0.0.1", port: int = 8765,
          poll_ms: int = 1500) -> None:
    """Run the dashboard until interrupted."""
    _, uvicorn = require_serve()
    app = create_app(directory, poll_ms)
    uvicorn.run(app, host=host, port=port, log_level="warning")
