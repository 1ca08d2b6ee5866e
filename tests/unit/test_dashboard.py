"""The live dashboard: its JSON from a real (stub-trained) campaign folder, the local server, and the
page rendered by a real headless chromium while the campaign gains a round (marker ``browser``).

The campaign is the stub-Services loop of test_round_stub.py (no torch): real pools, frozen suite,
records, registry and gate, in seconds.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_round_stub import FIVE, StubServices, _register_baseline, stub_config

from arena.arena import Campaign
from arena.dashboard import CampaignView, make_server
from arena.errors import ArenaError

pytestmark = pytest.mark.usefixtures("mirror")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _cfg(repo_root: Path):
    return stub_config(repo_root, **{**FIVE, "pool": 16, "live": 12},
                       extra=("campaign.gate.max_clean_f1_drop=1.0", "campaign.gate.max_fpr_rise=1.0"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """A finished two-round stub campaign (round 0 retrains and is gated)."""
    tmp = tmp_path_factory.mktemp("dash")
    cfg = _cfg(repo_root)
    out = tmp / "run"
    _register_baseline(cfg, tmp, out)
    Campaign(cfg, out, progress=False, services_factory=StubServices).run(rounds=1)
    return out


def _serve(out: Path, poll_s: float = 3.0):
    server = make_server(out, 0, poll_s=poll_s)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def test_state_of_a_finished_campaign(finished: Path):
    s = CampaignView(finished).state()
    summary = json.loads((finished / "summary.json").read_text())
    assert s["status"] == "finished" and s["rounds_planned"] == 1 and len(s["rounds"]) == 2
    r0 = s["rounds"][0]
    assert r0["frozen_detection"] == pytest.approx(summary["rounds"][0]["frozen_detection"], abs=1e-4)
    assert r0["gate"]["challenger_version"] == str(summary["rounds"][0]["gate"]["challenger_version"])
    assert s["strategies"] == sorted(summary["rounds"][0]["per_strategy_detection"]) and s["heldout"] == ["phonetic"]
    assert s["history"][0]["version"] == "1" and s["history"][0]["reason"] == "baseline"  # from the registry
    assert r0["gate"]["challenger_version"] in s["versions"] and "1" in s["versions"]
    for e in s["evasions"]:
        assert e["attacked"] and e["strategy"] and e["pool"] in ("live", "train") and e["score"] is not None
    assert len(s["evasions"]) <= 15


def test_server_routes_and_errors(finished: Path, tmp_path: Path):
    server, base = _serve(finished)
    try:
        status, body, ctype = _get(base + "/")
        assert status == 200 and "text/html" in ctype and b'<script src="plotly.min.js">' in body
        status, body, ctype = _get(base + "/plotly.min.js")
        assert status == 200 and "javascript" in ctype and len(body) > 1_000_000 and b"plotly" in body[:2000].lower()
        status, body, _ = _get(base + "/api/state")
        assert status == 200 and json.loads(body)["campaign_id"]
        status, body, _ = _get(base + "/nope")
        assert status == 404 and "no such page" in json.loads(body)["detail"]
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ArenaError, match="is not a folder"):
        make_server(tmp_path / "missing", 0)
    with pytest.raises(ArenaError, match="--poll"):
        make_server(finished, 0, poll_s=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert CampaignView(empty).state()["status"] == "starting"


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chrome or not driver:
        pytest.skip("no chromium/chromedriver here (Debian: make browser)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,2200"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(driver), options=opts)


def _wait(fn, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.browser
def test_dashboard_in_a_real_browser_follows_a_running_campaign(tmp_path: Path, repo_root: Path):
    from selenium.webdriver.common.by import By

    cfg = _cfg(repo_root)
    out = tmp_path / "run"
    _register_baseline(cfg, tmp_path, out)
    Campaign(cfg, out, progress=False, services_factory=StubServices).run(rounds=1)
    server, base = _serve(out, poll_s=0.5)
    driver = _browser()
    try:
        driver.get(base + "/")
        driver.execute_script("window.__loaded = 'first';")  # survives only if the page is never reloaded

        def gate_rows():
            return driver.find_elements(By.CSS_SELECTOR, "#gate-table tbody tr")

        _wait(lambda: len(gate_rows()) == 2, what="two gate rows")
        assert driver.find_element(By.ID, "status").text == "finished"
        # plotly drew real charts, in the page (not only in the HTML source)
        for chart in ("chart-detection", "chart-clean", "chart-heatmap"):
            _wait(lambda c=chart: driver.find_elements(By.CSS_SELECTOR, f"#{c} .main-svg"), what=f"{chart} svg")
        heat_labels = driver.find_element(By.ID, "chart-heatmap").text
        assert "phonetic (held out)" in heat_labels and "leet" in heat_labels
        summary = json.loads((out / "summary.json").read_text())
        g0 = summary["rounds"][0]["gate"]
        row0 = gate_rows()[0].text
        assert f"v{g0['challenger_version']}" in row0 and ("PROMOTED" in row0) == summary["rounds"][0]["promoted"]
        assert "v1" in driver.find_element(By.ID, "history-table").text
        compare = driver.find_elements(By.CSS_SELECTOR, "#compare-table tbody tr")
        assert len(compare) == len(summary["rounds"][0]["per_strategy_detection"]) + 3
        evasions = driver.find_elements(By.CSS_SELECTOR, "#evasions-table tbody tr")
        assert evasions and evasions[0].find_elements(By.TAG_NAME, "td")

        # the campaign gains a round while the page is open: it appears without a reload
        Campaign(cfg, out, progress=False, services_factory=StubServices).run(rounds=2)
        _wait(lambda: len(gate_rows()) == 3, what="the new round's row")
        assert driver.execute_script("return window.__loaded;") == "first"
        assert "2 of 2" in driver.find_element(By.ID, "progress").text
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
