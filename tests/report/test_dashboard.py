"""`rubicon serve`: a live dashboard that follows a running campaign in a real browser, has a
page per experiment, is read-only, binds to 127.0.0.1 and names its install command."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from rubicon.cli._common import finish
from rubicon.cli.main import build_parser
from rubicon.errors import RubiconError, StoreError
from tests.report.conftest import SCRIPT, artifact, write_script

# A demo campaign lasts seconds; more small steps keep it running while the browser watches.
LONG_SCRIPT = SCRIPT + [{"knobs": {"method": "mergesort", "cutoff": c}, "rationale": f"cutoff {c}"}
                        for c in (4, 8, 12, 24, 32, 48, 64, 96)]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as e:
        return int(e.code), bytes(e.read())


def test_serve_defaults_to_localhost() -> None:
    parser = build_parser("serve")
    args = parser.parse_args(["serve"])
    finish(args, parser.subparser("serve"))  # what `rubicon serve` does before it runs
    assert args.host == "127.0.0.1" and args.port == 8765


def test_missing_fastapi_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from rubicon.report.server import require_serve

    monkeypatch.setitem(sys.modules, "fastapi", None)  # makes `import fastapi` fail
    with pytest.raises(RubiconError, match=r"pip install 'rubicon\[serve\]'"):
        require_serve()


def test_read_only_store_refuses_writes(demo_store: Path) -> None:
    from rubicon.report import open_read_only

    s = open_read_only(demo_store)
    with pytest.raises(StoreError, match="read-only"):
        s.update_campaign(s.campaign().id, status="hacked")
    s.close()


def test_dashboard_endpoints_never_write(demo_store: Path, dashboard_factory: Any) -> None:
    before = hashlib.sha256((demo_store / "rubicon.db").read_bytes()).hexdigest()
    with dashboard_factory(demo_store) as dash:
        status, body = _get(dash.url + "/api/campaigns")
        assert status == 200
        cid = json.loads(body)["campaigns"][0]["id"]
        status, body = _get(f"{dash.url}/api/campaign/{cid}")
        summary = json.loads(body)
        assert summary["done"] == 5 and len(summary["experiments"]) == 5
        token = summary["token"]
        status, body = _get(f"{dash.url}/api/campaign/{cid}/view?since={token}")
        assert json.loads(body)["html"] is None  # nothing changed: no re-render
        status, body = _get(f"{dash.url}/plot/{cid}/lineage.png?v={token}")
        assert status == 200 and body[:4] == b"\x89PNG"
        eid = summary["incumbent_id"]
        status, body = _get(f"{dash.url}/experiment/{eid}")
        assert status == 200 and b'id="diff-parent"' in body and b'id="runs"' in body
        assert _get(f"{dash.url}/experiment/999999")[0] == 404
        assert _get(f"{dash.url}/plot/{cid}/nope.png")[0] == 404
    after = hashlib.sha256((demo_store / "rubicon.db").read_bytes()).hexdigest()
    assert after == before


def test_dashboard_follows_a_running_campaign(tmp_path: Path, browser: Any,
                                              dashboard_factory: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    runs = tmp_path / "runs"
    script = write_script(tmp_path / "script.json", LONG_SCRIPT)
    with dashboard_factory(runs) as dash:  # started before the store exists
        browser.get(dash.url + "/")
        assert "no campaign" in browser.find_element(By.ID, "waiting").text
        proc = subprocess.Popen(
            [sys.executable, "-m", "rubicon.cli.main", "run", "demo-inversions",
             "--researcher", "scripted", "-R", f"script={script}", "--dir", str(runs),
             "--budget", "3m", "--baseline-runs", "2", "--max-pairs", "3"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            WebDriverWait(browser, 60).until(ec.presence_of_element_located((By.ID, "exp-count")))
            browser.execute_script("window.__sameDocument = true;")  # lost on a reload
            seen: list[int] = []
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                n = int(browser.execute_script(  # atomic: the poller replaces the element
                    "return document.getElementById('exp-count').textContent;"))
                if not seen or n != seen[-1]:
                    seen.append(n)
                if proc.poll() is not None and n == 1 + len(LONG_SCRIPT):
                    break
                time.sleep(0.25)
            out = proc.stdout.read() if proc.stdout else ""
            assert proc.wait(timeout=60) in (0, 1), out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert seen == sorted(seen) and len(seen) >= 3, seen  # the count rose while we watched
        assert seen[-1] == 1 + len(LONG_SCRIPT)
        assert browser.execute_script("return window.__sameDocument === true;")  # live update
        WebDriverWait(browser, 20).until(lambda d: d.execute_script(
            "return document.getElementById('campaign-status').textContent;") == "finished")
        time.sleep(1.5)  # let the last poll land; nothing changes after "finished"
        rows = browser.find_elements(By.CSS_SELECTOR, "#experiments tbody tr")
        assert len(rows) == 1 + len(LONG_SCRIPT)
        WebDriverWait(browser, 60).until(lambda d: d.execute_script(
            "return Array.from(document.images).every(function (i) { return i.complete; });"))
        widths = browser.execute_script(
            "return Array.from(document.images).map(function (i) { return i.naturalWidth; });")
        assert len(widths) == 4 and all(w > 100 for w in widths)  # the plots loaded
        browser.save_screenshot(str(artifact("dashboard.png")))
        kept = browser.find_element(By.CSS_SELECTOR, "#experiments tbody tr.kept:not(#exp-1) a")
        eid = kept.text.lstrip("#")
        kept.click()
        title = WebDriverWait(browser, 20).until(
            ec.presence_of_element_located((By.ID, "experiment-title")))
        assert f"#{eid}" in title.text and "kept" in title.text
        assert "mergesort" in browser.find_element(By.ID, "diff-parent").text
        from rubicon.report import open_read_only
        store = open_read_only(runs)  # the page lists every run the store holds for it
        n_runs = len(store.runs(int(eid)))
        store.close()
        assert n_runs >= 1
        assert len(browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == n_runs
        browser.save_screenshot(str(artifact("experiment.png")))
