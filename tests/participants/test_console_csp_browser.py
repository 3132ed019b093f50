"""The console's Content-Security-Policy in Chromium (issue 31): an administrator signs in with a passkey (enrolment,
recovery codes, the second step), walks every console page, and meets a lockout; every page carries the policy,
and none of them trips it."""

import pytest
from django.test import Client

from tests.browser import chromium_page
from tests.conftest import make_staff
from tests.participants.console_pages import every_console_page
from tests.participants.test_admin_permissions import one_of_everything  # noqa: F401 — a fixture
from tests.participants.test_operator_accounts import code_step, password_step, virtual_authenticator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Each violation, as the page sees it, goes to the console, where the test reads it with the browser's own reports.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`));
"""
TRIPPED = ("CSP violation", "Content Security Policy", "Alpine Expression Error", "EvalError")


def enforced(response) -> str | None:
    """What is wrong with a console response's policy, if anything."""
    policy = response.headers.get("content-security-policy", "")
    scripts = next((part.split()[1:] for part in policy.split(";") if part.split()[:1] == ["script-src"]), [])
    if not any(value.startswith("'nonce-") for value in scripts) or "'unsafe-inline'" in scripts:
        return f"{response.url}: {policy or 'no Content-Security-Policy'}"
    return None


def test_no_console_page_trips_the_content_security_policy(live_server, settings, one_of_everything):  # noqa: F811
    root = make_staff("ravi", "Registry administrators", is_superuser=True)
    crawler = Client()
    crawler.force_login(root)
    pages = every_console_page(crawler)  # while a password is enough (OCEN_ADMIN_2FA=optional)
    settings.OCEN_ADMIN_2FA = "required"
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]

    tripped, unenforced = [], []
    with chromium_page() as page:
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", lambda m: any(t in m.text for t in TRIPPED) and tripped.append(f"{page.url}: {m.text}"))
        page.on("pageerror", lambda error: tripped.append(f"{page.url}: {error}"))
        page.on("response", lambda r: r.url.startswith(f"{live_server.url}/admin/") and unenforced.append(enforced(r)))
        virtual_authenticator(page)

        password_step(page, live_server.url, "ravi")  # enrolment: a passkey, then the recovery codes, once
        # The ceremony gives the session a new key: the page's own requests with the old one are done first (one
        # still under way would come back without a session and clear the cookie).
        page.wait_for_load_state("networkidle")
        page.click("#passkey-register-button")
        page.wait_for_selector("#recovery-codes")
        page.click("text=I have kept them: continue")
        page.wait_for_selector("#nav-sidebar")
        assert [problem for problem in unenforced if problem] == []

        # The listener hears the policy: an inline script without the nonce neither runs nor goes unreported.
        with page.expect_console_message(lambda m: m.text.startswith("CSP violation: script-src")):
            ran = page.evaluate("""() => { const s = document.createElement("script");
                s.textContent = "window.ranInline = true"; document.head.append(s); return !!window.ranInline; }""")
        assert not ran
        tripped.clear()

        for path in pages:
            page.goto(f"{live_server.url}{path}")
        page.context.clear_cookies()  # the second step of a sign-in, with the passkey
        password_step(page, live_server.url, "ravi")
        page.wait_for_selector("#passkey-verification-button")
        code_step(page, "000000")  # a wrong code first: the form again, with its error
        page.wait_for_selector("text=That code is not right")
        page.wait_for_load_state("networkidle")  # as above
        page.click("#passkey-verification-button")
        page.wait_for_selector("#nav-sidebar")
        page.context.clear_cookies()
        for _ in range(settings.AXES_FAILURE_LIMIT):  # and the lockout page
            password_step(page, live_server.url, "ravi", password="not-the-password")
        page.wait_for_selector("#locked-out")

    assert len(pages) > 40, pages
    assert tripped == []
    assert [problem for problem in unenforced if problem] == []
