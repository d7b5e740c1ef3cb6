"""The HTML dashboard in a real browser: it fits a laptop, a failed cell opens its conversation,
and what a runtime said is shown as text (headless Chromium through Selenium)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import CANARY_IDS, DIAGNOSTIC_IDS
from harness.cp_sim.transcript import FILE_NAME, Transcript
from harness.events import A2ACall, CanaryEnd, CanaryStart, Header, ModelCall, PlatformCall
from harness.results import CanaryResult, Result, Status, write
from tests.support.runs import run_cli, write_config

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
HOSTILE = "<script>window.pwned = 1</script> **not bold** <b>nor this</b>"
TEMPLATES = [f"template-number-{n:02d}" for n in range(12)]


def _reply(text: str) -> str:
    message = {"kind": "message", "role": "agent", "messageId": "m",
               "parts": [{"kind": "text", "text": text}]}  # fmt: skip
    return json.dumps({"jsonrpc": "2.0", "id": 1, "result": message})


def _stored_run(directory: Path) -> None:
    """Twelve cells with every column; the first fails name_recall with a hostile reply."""
    every = (*CANARY_IDS, *DIAGNOSTIC_IDS)
    for number, name in enumerate(TEMPLATES):
        failed = number == 0
        artifacts = directory / "artifacts" / name
        transcript = Transcript(artifacts / FILE_NAME)
        transcript.write(Header(template=name, gate="required", wave=number % 3,
                                selected=every, conversations=CANARY_IDS,
                                session_scope="context", workspace_id="ws"))  # fmt: skip
        transcript.write(CanaryStart(canary="name_recall", step="converse"))
        turn = transcript.begin_turn("name_recall")
        transcript.write(A2ACall(canary="name_recall", turn=turn, context_id="ctx-1",
                                 sent="Hi, my name is Kovalim.", request={}, status=200,
                                 body=_reply("Nice to meet you, Kovalim!")))  # fmt: skip
        transcript.end_turn(turn)
        turn = transcript.begin_turn("name_recall")
        transcript.tied(ModelCall(api="chat", answer="I do not know."))
        transcript.tied(PlatformCall(method="GET", path="/workspaces/ws/memories", status=200,
                                     auth="bearer"))  # fmt: skip
        answer = _reply(HOSTILE if failed else "Kovalim.")
        line = transcript.write(A2ACall(canary="name_recall", turn=turn, context_id="ctx-1",
                                        sent="What is my name?", request={}, status=200,
                                        body=answer))  # fmt: skip
        transcript.end_turn(turn)
        transcript.write(CanaryEnd(canary="name_recall"))
        transcript.close()
        verdict = (CanaryResult(Status.FAILED, layer="session", message=(
            f"asked 'What is my name?'; got {HOSTILE!r}; expected 'Kovalim' "
            f"(transcript line {line})")) if failed else CanaryResult(Status.PASSED))  # fmt: skip
        canaries = {c: CanaryResult(Status.PASSED) for c in every} | {"name_recall": verdict}
        write(Result(template=name, gate="required", wave=number % 3, driver="process",
                     status=Status.FAILED if failed else Status.PASSED, canaries=canaries,
                     reason="a reason long enough to have wrapped a row: " + "words " * 30,
                     artifacts=(f"artifacts/{name}/{FILE_NAME}",)),
              directory / "results")  # fmt: skip


@pytest.fixture
def browser() -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires a browser: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
    ):
        options.add_argument(flag)  # fmt: skip
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_dashboard_fits_opens_a_failed_cells_conversation_and_shows_text_as_text(
    tmp_path: Path, browser: object
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    _stored_run(tmp_path)
    config = write_config(tmp_path, "".join(f'[templates.{n}]\nimage = "x:1"\n' for n in TEMPLATES))
    page = tmp_path / "report.html"
    made = run_cli("--config", str(config), "report", str(tmp_path / "results"),
                   "--format", "html", "--output", str(page), cwd=tmp_path)  # fmt: skip
    assert made.returncode == 1, made.stderr  # one required template failed
    text = page.read_text()
    assert "https://" not in text  # self-contained: nothing fetched
    assert "http://" not in text

    browser.get(page.as_uri())
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 1280, f"the page is {width} px wide at a 1280 px window"
    assert browser.execute_script("return window.innerWidth") <= 1280

    failed = browser.find_element(By.CSS_SELECTOR, "button.cell.failed")
    failed.click()
    dialog = browser.find_element(By.ID, "conversation")
    assert dialog.get_attribute("open") is not None
    bubbles = [b.text for b in dialog.find_elements(By.CSS_SELECTOR, ".bubble")]
    assert bubbles[:2] == ["Hi, my name is Kovalim.", "Nice to meet you, Kovalim!"]
    assert bubbles[2:] == ["What is my name?", HOSTILE]  # as text: tags and asterisks shown
    assert browser.execute_script("return window.pwned") is None
    assert dialog.find_elements(By.CSS_SELECTOR, ".bubble.cited")  # the finding's line
    calls = dialog.find_element(By.CSS_SELECTOR, ".calls").text
    assert "GET /workspaces/ws/memories" in calls
    assert "I do not know." in calls
    assert "expected 'Kovalim'" in dialog.find_element(By.CSS_SELECTOR, ".finding").text


def test_report_open_writes_the_page_and_opens_it(tmp_path: Path) -> None:
    _stored_run(tmp_path)
    config = write_config(tmp_path, "".join(f'[templates.{n}]\nimage = "x:1"\n' for n in TEMPLATES))
    opened = run_cli("--config", str(config), "report", str(tmp_path / "results"), "--open",
                     cwd=tmp_path, env={"BROWSER": "true"})  # fmt: skip
    assert "report.html" in opened.stdout, opened.stderr
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
    wrong = run_cli("--config", str(config), "report", str(tmp_path / "results"), "--open",
                    "--format", "junit", cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2
    assert "--open shows the HTML page" in wrong.stderr
