"""A screenshot of the live dashboard (arena/dashboard.py) of a campaign folder, taken by headless chromium.

    .venv/bin/python bench/dashboard_screenshot.py --run runs/headline --out docs/img/dashboard.png

Starts the dashboard on a free 127.0.0.1 port, waits until the page has drawn its charts and tables,
saves the screenshot and stops. Needs chromium and chromedriver (`make browser`) and selenium (dev extra).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="campaign folder (may still be running)")
    ap.add_argument("--out", default="docs/img/dashboard.png")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=2100)
    args = ap.parse_args(argv)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from arena.dashboard import make_server

    chrome, driver_bin = shutil.which("chromium") or shutil.which("google-chrome"), shutil.which("chromedriver")
    if not chrome or not driver_bin:
        print("error: chromium and chromedriver are needed (make browser)", file=sys.stderr)
        return 2
    server = make_server(args.run, 0, poll_s=1.0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={args.width},{args.height}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                driver.find_elements(By.CSS_SELECTOR, "#chart-heatmap .main-svg")
                and driver.find_elements(By.CSS_SELECTOR, "#gate-table tbody tr")):
            time.sleep(0.3)
        time.sleep(1.0)  # let plotly finish its transitions
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
        status = driver.find_element(By.ID, "progress").text
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
    print(f"dashboard screenshot: {out} ({status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
