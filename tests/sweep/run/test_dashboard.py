"""The Ray dashboard of a running grid, in a real browser (docs/watching.md).

`sweep grid` starts a local Ray instance whose dashboard listens on 127.0.0.1 with Ray's
token authentication on. This test runs the smoke sweep with trials long enough to be
watched and one Ray worker per trial (``reuse_actors: false``), then, in headless
Chromium driven by Playwright: enters the token that ``ray get-auth-token`` prints (after
a wrong one is refused), opens the Actors page, finds a running trial's actor named by the
configuration it trains (family, key and settings of a configuration the sweep file
plans), and opens that actor's log, where the trial's "iteration" lines are. The
dashboard's API answers 401 without the token and 403 with a wrong one.

With another local Ray instance on the machine (another test session), this instance's
dashboard agent cannot bind its fixed HTTP port and the dashboard cannot show actor logs
("Failed to load"): the test then warns that it did not check the log, instead of failing.

Needs /usr/bin/chromium (Debian: ``apt-get install -y chromium``; Playwright's own
browser download is not used) and the ``playwright`` package; skipped without them.
The screenshot of the Actors page goes to the test's tmp folder (docs/dashboard.png is
such a screenshot, taken once).
"""
from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path


from sweep.config import load_config, trials
from sweep.run.driver.cluster import ray_cli
from browser import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS
from sweeps import Driver, write_sweep

ITERATIONS = 3000          # minutes per trial on 2 CPU cores: trials run while we look
START_TIMEOUT_S = 240      # until the dashboard's URL is printed and a trial runs
FIND_TIMEOUT_S = 120       # until the page lists a running trial / its log shows a line
UI_TIMEOUT_MS = 30_000     # one page step (load, click, dialog)
RELOAD_EVERY_S = 20        # reload the Actors page if it lists no running trial for this long
VIEWPORT = {"width": 1400, "height": 900}
TOKEN_PLACEHOLDER = "Enter your authentication token"  # the dashboard's token dialog

pytestmark = BROWSER_MARKS


def _wait_until(what: str, driver: Driver, timeout: float, check):
    """Poll ``check()`` until it returns something truthy; fail if the driver exits."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        tail = driver.output[-3000:]
        assert driver.proc.poll() is None, f"the sweep ended before {what}:\n{tail}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s:\n{tail}"
        time.sleep(0.5)


def _driver_env(driver: Driver) -> dict[str, str]:
    """The driver process's environment, exactly (RAY_TMPDIR, HOME, RAY_AUTH_*...)."""
    raw = Path(f"/proc/{driver.proc.pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def _status(url: str, token: str | None) -> int:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def _agent_port_taken(driver: Driver) -> str | None:
    """The dashboard agent's complaint when another Ray instance on this machine holds
    its HTTP port (52365, fixed by Ray): the dashboard then lists actors but says "Failed
    to load" for their logs."""
    for log in driver.ray_tmp.glob("ray/session_*/logs/dashboard_agent.log"):
        for line in log.read_text(errors="replace").splitlines():
            if "address already in use" in line and "Retrying" not in line:  # gave up
                return line.strip()
    return None


def _running_trials(page, planned: dict[str, str]) -> list[tuple[str, str]]:
    """(actor ID, repr) of the Actors table's ALIVE rows whose repr is a planned
    configuration's description."""
    headers = [h.strip() for h in page.get_by_role("columnheader").all_inner_texts()]
    if "Repr" not in headers or "State" not in headers:
        return []
    at_repr, at_state, at_id = headers.index("Repr"), headers.index("State"), headers.index("ID")
    found = []
    for row in page.get_by_role("row").filter(has_text="nLayerG=").all():
        cells = [c.strip() for c in row.get_by_role("cell").all_inner_texts()]
        if len(cells) != len(headers):
            continue
        name = " ".join(cells[at_repr].split())
        if cells[at_state] == "ALIVE" and name in planned:
            found.append((cells[at_id], name))
    return found


def test_the_dashboard_names_running_trials_by_configuration(tmp_path, small_classifier):
    from playwright.sync_api import sync_playwright

    def watched(doc: dict) -> None:
        doc["budget"]["iterations"] = ITERATIONS
        doc["resources"]["reuse_actors"] = False  # one actor per trial, named by its config
        doc["resources"]["pack"] = 1              # one configuration per trial, on GPUs too
    sweep_file = write_sweep(tmp_path / "watched.yaml", small_classifier, watched)
    planned = {t.describe(): f"{t.family}-{t.key}" for t in trials(load_config(sweep_file))}
    results = tmp_path / "results"
    shot = tmp_path / "dashboard.png"
    times: dict[str, float] = {}

    t0 = time.monotonic()
    driver = Driver(["grid", "-c", str(sweep_file), "--results", str(results)], tmp_path)
    try:
        def printed_url() -> str | None:
            m = re.search(r"^Ray dashboard: (http://127\.0\.0\.1:\d+)", driver.output, re.M)
            return m and m.group(1)
        url = _wait_until("dashboard URL", driver, START_TIMEOUT_S, printed_url)

        def trial_running() -> bool:
            try:
                return json.loads((results / "progress.json").read_text())["running_units"] >= 1
            except (OSError, ValueError, KeyError):
                return False
        _wait_until("running trial", driver, START_TIMEOUT_S, trial_running)
        times["a trial runs"] = time.monotonic() - t0

        token_run = subprocess.run([ray_cli(), "get-auth-token"], env=_driver_env(driver),
                                   capture_output=True, text=True, timeout=60)
        assert token_run.returncode == 0, token_run.stderr[-2000:]
        token = token_run.stdout.strip().splitlines()[-1].strip()
        wrong = "0" * len(token) if token != "0" * len(token) else "1" * len(token)

        # The dashboard's API (what its pages call) refuses requests without the token.
        api = f"{url}/logical/actors"
        assert _status(api, None) == 401
        assert _status(api, wrong) == 403
        assert _status(api, token) == 200

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS)  # a fresh temporary profile
            page = None
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(UI_TIMEOUT_MS)

                # The token dialog: a wrong token is refused, the right one lets us in.
                page.goto(url)
                dialog = page.get_by_role("dialog", name="Authentication Token Required")
                dialog.wait_for()
                box = page.get_by_placeholder(TOKEN_PLACEHOLDER)
                box.fill(wrong)
                page.get_by_role("button", name="Submit").click()
                page.get_by_text("Invalid authentication token").wait_for()
                box.fill(token)
                with page.expect_navigation():  # the dialog validates it, then reloads
                    page.get_by_role("button", name="Submit").click()
                dialog.wait_for(state="hidden")
                times["signed in"] = time.monotonic() - t0

                # The Actors page lists each running trial's actor by its configuration.
                page.get_by_role("link", name="Actors").click()
                page.wait_for_url("**/#/actors")

                reloaded = [time.monotonic()]

                def listed() -> list[tuple[str, str]]:
                    rows = _running_trials(page, planned)  # the table refreshes itself
                    if not rows and time.monotonic() - reloaded[0] > RELOAD_EVERY_S:
                        page.reload()
                        reloaded[0] = time.monotonic()
                    return rows
                running = _wait_until("running trial on the Actors page", driver,
                                      FIND_TIMEOUT_S, listed)
                times["trial listed"] = time.monotonic() - t0
                table = page.locator("table").first.bounding_box()  # crop what is below
                page.screenshot(path=str(shot), clip={
                    "x": 0, "y": 0, "width": VIEWPORT["width"],
                    "height": min(VIEWPORT["height"], table["y"] + table["height"] + 16)})
                actor_id, name = running[0]
                assert name in planned  # family, key and settings of a planned configuration
                label = planned[name]   # "<family>-<key>", as the trial's log lines begin

                # Its Log link opens the actor's page; STDOUT holds the trial's progress.
                row = page.get_by_role("row").filter(has_text=actor_id)
                row.get_by_role("link", name="Log", exact=True).click()
                page.wait_for_url(f"**/#/actors/{actor_id}")
                page.get_by_text(name, exact=True).first.wait_for()  # the page's Repr field
                page.get_by_role("tab", name="STDOUT").click()
                line = re.compile(rf"\[{re.escape(label)}\] iteration [\d,]+/{ITERATIONS:,}: "
                                  r"loss_d -?[\d.]+, loss_g -?[\d.]+")

                def logged() -> str | None:
                    m = line.search(page.inner_text("body"))
                    if m:
                        return m.group(0)
                    if page.get_by_text("Failed to load").count() and \
                            (taken := _agent_port_taken(driver)):
                        return f"not shown: {taken}"
                    refresh = page.get_by_role("button", name=re.compile(r"^refresh$", re.I))
                    if refresh.count():
                        refresh.first.click()  # the log view's Refresh button
                    else:
                        page.reload()
                        page.get_by_role("tab", name="STDOUT").click()
                    page.wait_for_timeout(2000)
                    return None
                progress = _wait_until("iteration line in the actor's log", driver,
                                       FIND_TIMEOUT_S, logged)
                times["log line"] = time.monotonic() - t0
            except BaseException:
                if page is not None:  # what the page showed, for the failure's report
                    with contextlib.suppress(Exception):
                        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                        (tmp_path / "failure.txt").write_text(page.inner_text("body"))
                        print(f"\n[dashboard] the page at failure: {tmp_path / 'failure.png'}")
                raise
            finally:
                browser.close()
    finally:
        driver.close()
    print(f"\n[dashboard] {url}: running trial '{name}' (actor {actor_id}); log: {progress}")
    print(f"[dashboard] screenshot {shot}")
    print("[timing] " + ", ".join(f"{k} at {v:.1f} s" for k, v in times.items())
          + f", all stopped at {time.monotonic() - t0:.1f} s")
    assert shot.stat().st_size > 10_000
    if progress.startswith("not shown: "):  # another Ray instance runs on this machine
        warnings.warn("the actor's log was not checked: the dashboard agent's port is held "
                      f"by another Ray instance on this machine ({progress[11:]})")
