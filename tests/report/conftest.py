"""Fixtures for the report and dashboard tests: a small real demo campaign, a headless
Chromium driven by Selenium, a dashboard server on a free 127.0.0.1 port."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# kept, crashed, invalid (edits a read-only file), and a candidate with researcher cost
SCRIPT: list[dict[str, Any]] = [
    {"knobs": {"method": "mergesort"}, "rationale": "merge sort: O(n log n)",
     "meta": {"tokens": 1200, "cost_usd": 0.004}},
    {"knobs": {"method": "insertion"}, "rationale": "insertion (not written yet)"},
    {"edits": [{"file": "bench.py", "search": "", "replace": "print(1)\n"}],
     "rationale": "rewrite the benchmark (not allowed)"},
    {"knobs": {"method": "mergesort", "cutoff": 16}, "rationale": "quadratic below 16",
     # the llm researcher's keys: these must count too
     "meta": {"tokens_in": 500, "tokens_out": 300, "cost_usd": 0.002}},
]


def small_config(n: int) -> CampaignConfig:
    return CampaignConfig(max_experiments=n, baseline_runs=2,
                          protocol=ProtocolConfig(min_pairs=2, max_pairs=3))


@pytest.fixture(scope="session")
def demo_store() -> Iterator[Path]:
    """A finished demo-inversions campaign (baseline + 4 experiments), shared by the tests."""
    d = Path(tempfile.mkdtemp(prefix="rubicon-report-test-"))
    c = Campaign.create("demo-inversions", "scripted", directory=d,
                        researcher_obj=ScriptedResearcher(list(SCRIPT)), cfg=small_config(4))
    c.run()
    c.store.close()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write_script(path: Path, items: list[dict[str, Any]] = SCRIPT) -> Path:
    path.write_text(json.dumps(items))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dashboard:
    """`rubicon serve` in a thread (uvicorn.Server), on a free port of 127.0.0.1."""

    def __init__(self, directory: Path, poll_ms: int = 400) -> None:
        import uvicorn

        from rubicon.report.server import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(directory, poll_ms=poll_ms), host="127.0.0.1",
                                port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Dashboard:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def dashboard_factory() -> Any:
    for mod in ("fastapi", "uvicorn"):
        pytest.importorskip(mod, reason=f"dashboard tests need {mod}: pip install 'rubicon[serve]'")
    return Dashboard


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Debian Chromium via Selenium and the system chromedriver; skips (with the
    reason) when it cannot start."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        pytest.skip(f"browser tests need selenium (pip install selenium): {e}")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).exists() and shutil.which(Path(exe).name) is None:
            pytest.skip(f"browser tests need {exe}: apt-get install -y chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,1600",
                f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        opts.add_argument(arg)
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else str(shutil.which("chromedriver"))
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    except Exception as e:  # any start-up failure: skip visibly, never silently pass
        pytest.skip(f"headless Chromium could not start: {type(e).__name__}: {e}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
