"""Headless Chromium for the browser tests (Debian's package, driven by Playwright).

``playwright install`` cannot download its browsers here, so the tests launch Debian's
Chromium through ``executable_path`` and skip with a message where it is missing.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# As root and without network: no sandbox, and no background connections to refuse.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="the Python package playwright is not installed"),
]
