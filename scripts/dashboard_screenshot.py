"""Screenshot the HTML dashboard of a run at 1280x800 in headless Chromium: the grid, and
the conversation of its first failed cell (how docs/dashboard*.png were made).

    python scripts/dashboard_screenshot.py results/ docs/dashboard.png

Needs Debian's ``chromium`` and ``chromium-driver`` and ``selenium`` (the dev extra).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,800")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the run's results directory")
    parser.add_argument("output", type=Path, help="the grid's screenshot (PNG)")
    args = parser.parse_args()
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        print("dashboard_screenshot: needs Debian's chromium and chromium-driver", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "report.html"
        subprocess.run(
            [sys.executable, "-m", "harness", "report", str(args.results), "--format", "html",
             "--output", str(page)],
            check=False,
        )  # fmt: skip
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in FLAGS:
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
        try:
            driver.get(page.as_uri())
            width = driver.execute_script("return document.documentElement.scrollWidth")
            print(f"page width at a 1280 px window: {width} px")
            driver.save_screenshot(str(args.output))
            failed = driver.find_elements(By.CSS_SELECTOR, "button.cell.failed")
            if failed:
                failed[0].click()
                opened = args.output.with_name(f"{args.output.stem}-conversation.png")
                driver.save_screenshot(str(opened))
                print(f"wrote {args.output} and {opened}")
            else:
                print(f"wrote {args.output} (no failed cell to open)")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
