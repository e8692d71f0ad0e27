"""Where the browser tests find Chromium, and what happens when it is missing: skipped with a
message locally, failed in CI (`make test` installs Debian's Chromium when it runs as root)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("STREAMKEEPER_TEST_CHROMIUM", "/usr/bin/chromium")


def need_browser() -> None:
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package (pip install -e '.[dev]')"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing = f"Chromium at {CHROMIUM} (apt-get install chromium; `make test` does it as root)"
    if missing:
        if IN_CI:
            pytest.fail(f"browser tests need {missing}")
        pytest.skip(f"browser tests skipped: no {missing}")
