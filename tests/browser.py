"""Debian's chromium driven by Playwright, for admin flows in a real browser (never `playwright install`)."""

import contextlib
import os
import shutil

import pytest
from django.db import connections

CHROMIUM = os.environ.get("OCEN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium_page(*, headers: dict | None = None):
    """A page of a fresh browser; `headers` are sent with every request (e.g. the X-Forwarded-For a proxy adds)."""
    with chromium_pages([headers]) as (page,):
        yield page


@contextlib.contextmanager
def chromium_pages(headers: list):
    """One page per entry of `headers` (a dict or None), each in a browser context of its own (its own cookies:
    another browser, as far as the registry can tell)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/prepare` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test still needs the ORM here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                pages = []
                for extra in headers:
                    context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=extra)
                    pages.append(context.new_page())
                    pages[-1].set_default_timeout(15000)
                yield tuple(pages)
            finally:
                browser.close()
                # ORM calls made inside the event loop's context opened their own connection.
                connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shown_field(page, label: str) -> str:
    """The value a change page shows beside `label` (unfold marks read-only rows by their label only)."""
    return page.inner_text(f".field-line:has(label:text-is('{label}')) div.grow").strip()
