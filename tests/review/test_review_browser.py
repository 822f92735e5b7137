"""End to end in a real browser: Debian's headless Chromium, driven by Selenium through Debian's chromedriver
(`make test` installs both), against `sigma review`'s app served by uvicorn on loopback.

The keys a reviewer presses (a, r, f, p, n, a note) go to the page; the test then reads review.jsonl and
the export. Waits are on page events (the URL moving on after a saved decision), never on time.
Screenshots of the grid and the detail view go to ``$SIGMA_REVIEW_SCREENSHOTS`` when set (docs/review.md's
pictures come from there) and to the test's temp folder otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
import uvicorn

from sigma.review.app import create_app
from sigma.review.export import export_reviewed
from tests.conftest import tiny_params
from tests.review.conftest import decisions, records

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (`make test` installs them when run as root)",
)


@pytest.fixture
def served(annotated):
    """The review app on a loopback socket that listens before the server thread starts (no start race)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(create_app(str(annotated), reviewer="e2e"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition) -> None:
    """Wait (30 s at most) until ``condition(driver)`` holds. A check that runs while the page is being
    replaced finds the old elements gone or stale: that is "not yet", never an error."""
    from selenium.common.exceptions import (
        JavascriptException,
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (JavascriptException, NoSuchElementException, StaleElementReferenceException)
    WebDriverWait(driver, 30, ignored_exceptions=ignored).until(condition)


def _pictures_loaded(driver) -> None:
    """Wait until the pairs' pictures have loaded (for the screenshots)."""
    pictures = "Array.from(document.querySelectorAll('.card img, .stage img'))"
    script = f"return {pictures}.every(i => i.complete && i.naturalWidth > 0)"
    _wait(driver, lambda d: d.execute_script(script))


LOADED_DETAIL = "return document.readyState === 'complete' && !!document.getElementById('detail')"


def _press(driver, key: str, moves_on: bool = True) -> None:
    """Press ``key`` on the page; with ``moves_on`` wait until the page left the current position."""
    from selenium.webdriver.common.by import By

    before = driver.current_url
    driver.find_element(By.TAG_NAME, "body").send_keys(key)
    if moves_on:
        _wait(driver, lambda d: d.current_url != before and d.execute_script(LOADED_DETAIL))


def test_a_reviewer_decides_with_the_keys_and_exports_what_was_accepted(served, browser, annotated, tmp_path):
    from selenium.webdriver.common.by import By

    shots = Path(os.environ.get("SIGMA_REVIEW_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    browser.get(f"{served}/?per_page=8")
    cards = browser.find_elements(By.CSS_SELECTOR, ".card")
    assert len(cards) == 8
    _pictures_loaded(browser)
    browser.save_screenshot(str(shots / "review-grid.png"))
    worst_first = [c.find_element(By.CSS_SELECTOR, ".id").text for c in cards]

    cards[0].click()
    _wait(browser, lambda d: "pos=0" in d.current_url and d.execute_script(LOADED_DETAIL))
    _pictures_loaded(browser)
    browser.save_screenshot(str(shots / "review-detail.png"))
    _press(browser, "a")  # accept pair 0, move to 1
    _press(browser, "r")  # reject pair 1, move to 2
    _press(browser, "f")  # flag pair 2, move to 3
    _press(browser, "p")  # back to 2
    note = browser.find_element(By.ID, "note")
    note.send_keys("fine after all")  # keys typed into the note are not shortcuts
    assert "pos=2" in browser.current_url
    browser.find_element(By.CSS_SELECTOR, "button[data-decision=accept]").click()  # the button saves the note
    _wait(browser, lambda d: "pos=3" in d.current_url and d.execute_script(LOADED_DETAIL))
    _press(browser, "n")
    assert "pos=4" in browser.current_url

    log = decisions(annotated)
    assert [(d["id"], d["decision"]) for d in log] == [
        (worst_first[0], "accept"),
        (worst_first[1], "reject"),
        (worst_first[2], "flag"),
        (worst_first[2], "accept"),
    ]
    assert log[-1]["note"] == "fine after all" and log[0]["reviewer"] == "e2e"
    progress = browser.find_element(By.ID, "progress-text").text
    assert progress.startswith(f"3 / {len(records(annotated))} reviewed") and "accept rate 67%" in progress

    # In a view of the unreviewed pairs, a decided pair leaves the view: the next one takes its place.
    browser.get(f"{served}/detail?state=unreviewed&pos=0")  # get() returns once the page has loaded
    first = browser.find_element(By.ID, "detail").get_attribute("data-id")
    _press(browser, "a", moves_on=False)
    _wait(browser, lambda d: d.find_element(By.ID, "detail").get_attribute("data-id") != first)
    assert "pos=0" in browser.current_url and "state=unreviewed" in browser.current_url
    log = decisions(annotated)
    assert log[-1]["id"] == first and first not in worst_first[:3]

    summary = export_reviewed(str(annotated), tiny_params().annotate, "accepted-only", str(tmp_path / "export"))
    manifest = [json.loads(line) for line in (tmp_path / "export/manifest.jsonl").read_text().splitlines()]
    assert sorted(m["id"] for m in manifest) == sorted([worst_first[0], worst_first[2], first])
    assert (summary["accepted"], summary["rejected"], summary["flagged"]) == (3, 1, 0)
