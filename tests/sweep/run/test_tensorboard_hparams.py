"""Every configuration of the smoke sweep in TensorBoard's HParams dashboard, in a real browser.

After the smoke sweep (13 configurations), on a copy of its results: `sweep collect`
writes one HParams session per configuration (sweep/report/hparams.py) and `sweep
tensorboard` serves them beside Ray Tune's runs on 127.0.0.1. In headless Chromium
driven by Playwright, the HPARAMS tab's table view lists exactly the 13 configurations
(named family-key, as their Tune folders) and, sorted by I descending in its Sorting
panel, shows them in the order of the results table's scores. The screenshot goes to the
test's tmp folder (docs/hparams.png is such a screenshot, taken once).

Needs /usr/bin/chromium (Debian: ``apt-get install -y chromium``) and ``playwright``;
skipped without them.
"""
from __future__ import annotations

import re
import shutil
import socket
import time
import urllib.request

import pandas as pd

from browser import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS
from sweeps import Driver, sweep

START_TIMEOUT_S = 120      # until TensorBoard answers
UI_TIMEOUT_MS = 60_000     # one page step
VIEWPORT = {"width": 1900, "height": 900}
SESSION = re.compile(r"^(ebgan|gan|ebgan_pt)-[0-9a-f]{16}$")  # a session's Trial ID

pytestmark = BROWSER_MARKS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def _pick(page, menu: str, item: str) -> None:
    """Choose ``item`` in the Sorting panel's dropdown labelled ``menu``."""
    page.locator("paper-dropdown-menu").filter(has_text=menu).first.click()
    page.locator("paper-item:visible", has_text=re.compile(rf"^\s*{item}\s*$")).first.click()


def _shown_order(page) -> list[str]:
    """The Trial IDs of the table view, top to bottom as drawn (the grid reuses rows, so
    the document order is not the visual one)."""
    cells = [c for c in page.get_by_text(SESSION).all() if c.is_visible()]
    return [t for _, t in sorted((c.bounding_box()["y"], c.inner_text().strip()) for c in cells)]


def test_hparams_lists_and_sorts_every_configuration(smoke_run, tmp_path):
    from playwright.sync_api import sync_playwright

    work, sweep_file, results = smoke_run[:3]
    exp = tmp_path / "results"
    shutil.copytree(results, exp)  # the shared smoke results stay as the other tests left them
    rc, out = sweep("collect", "-c", str(sweep_file), "--results", str(exp), cwd=work)
    assert rc == 0, out[-3000:]
    assert "13 configurations ->" in out
    table = pd.read_parquet(exp / "trials.parquet")
    names = {f"{f}-{k}": s for f, k, s in zip(table["family"], table["trial_key"], table["score"])}
    assert len(names) == 13

    port = _free_port()
    board = Driver(["tensorboard", "-c", str(sweep_file), "--results", str(exp), "--port",
                    str(port)], work)
    shot = tmp_path / "hparams.png"
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            assert board.proc.poll() is None, board.output[-3000:]
            assert time.monotonic() < deadline, board.output[-3000:]
            time.sleep(0.5)
        assert "13 configurations in HParams" in board.output

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(UI_TIMEOUT_MS)
                page.goto(f"{url}/#hparams")
                page.get_by_text("TABLE VIEW").wait_for()
                page.get_by_text(SESSION).first.wait_for()
                page.get_by_text("Number of matching session groups: 13").wait_for()
                assert sorted(_shown_order(page)) == sorted(names)

                _pick(page, "Sort by", "I")
                _pick(page, "Direction", "Descending")
                want = sorted(names, key=lambda n: -names[n])
                deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
                while (shown := _shown_order(page)) != want and time.monotonic() < deadline:
                    time.sleep(0.5)
                scores = [names[n] for n in shown]
                assert scores == sorted(scores, reverse=True), shown
                page.screenshot(path=str(shot))
            finally:
                browser.close()
    finally:
        board.close()
    assert shot.stat().st_size > 10_000
