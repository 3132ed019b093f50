"""`make screenshots`: the console's main pages, photographed in Debian's chromium over a seeded registry.

A throw-away SQLite registry (the quickstart's demo participants, plus an application received, one under
review, a suspended participant, a key about to expire and some tokens) is served by runserver on a free
port; Playwright signs in and writes docs/console/<page>.png at 1440 by 900. docs/console.md shows them.
"""

import datetime as dt
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("OCEN_TEST_CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(password: str, keys_dir: str) -> dict:
    """The demo registry, a few participants in each state an operator acts on, and the operator's login."""
    import django
    from django.core.management import call_command

    django.setup()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from participants import services
    from participants.models import Participant, ReviewStatus, Role

    call_command("migrate", verbosity=0)
    printed = io.StringIO()
    call_command("quickstart_demo", username="operator", keys_dir=keys_dir, stdout=printed)
    demo = json.loads(printed.getvalue()[printed.getvalue().index("[") : printed.getvalue().rindex("]") + 1])
    user = get_user_model().objects.get(username="operator")
    user.set_password(password)
    user.save()
    actor = services.Actor.for_user(user)

    def pem():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def onboard(name, role, **extra):
        slug = "-".join(name.lower().split())
        return services.onboard_participant(
            org_name=name, role=role, base_url=f"https://{slug}.example.in/ocen", public_key=pem(), actor=actor, **extra
        )

    onboard("Shakti Small Finance", Role.LENDER, pending=ReviewStatus.APPLIED)
    queued = onboard("Udaan Loan Agent", Role.LOAN_AGENT, pending=ReviewStatus.APPLIED)
    services.start_review(participant=queued.participant, actor=actor)
    paused = onboard("Pragati Collections", Role.COLLECTIONS_PARTNER)
    services.suspend_participant(participant=paused.participant, actor=actor, reason="overdue security audit")
    lender = Participant.objects.get(organisation__name="Demo Lender Bank")
    services.add_participant_key(
        participant=lender, public_key=pem(), actor=actor, valid_until=timezone.now() + dt.timedelta(days=21)
    )
    return {
        "credentials": [(p["clientId"], p["clientSecret"]) for p in demo],
        "lender": str(lender.pk),
        "suspended": str(paused.participant.pk),
        "network": str(lender.products.get().networks.get().pk),
    }


def issue_tokens(base: str, credentials) -> None:
    """Some traffic for the dashboard's chart: client-credentials grants at the token endpoint."""
    import requests

    for client_id, client_secret in credentials * 5:
        grant = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        requests.post(f"{base}/auth/token", data=grant, timeout=10).raise_for_status()


def shoot(base: str, password: str, ids: dict) -> list[str]:
    from playwright.sync_api import sync_playwright

    pages = [
        ("dashboard", "/admin/"),
        ("participants", "/admin/participants/participant/?_facets=True"),
        ("participant", f"/admin/participants/participant/{ids['lender']}/change/"),
        ("participant-suspended", f"/admin/participants/participant/{ids['suspended']}/change/"),
        ("onboarding", "/admin/participants/participant/add/"),
        ("offboarding-plan", f"/admin/participants/participant/confirm/offboard/?ids={ids['lender']}"),
        ("timeline", f"/admin/participants/participant/{ids['lender']}/history/"),
        ("signature-check", f"/admin/participants/participant/{ids['lender']}/signature-check/"),
        ("keys", "/admin/participants/participantkey/"),
        ("network", f"/admin/participants/productnetwork/{ids['network']}/change/"),
        ("audit-trail", "/admin/participants/auditevent/"),
        ("export", "/admin/participants/participant/export/"),
    ]
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.goto(f"{base}/admin/login/")
        page.screenshot(path=OUT / "login.png")
        written.append("login.png")
        page.fill("#id_username", "operator")
        page.fill("#id_password", password)
        page.click("#login-form [type=submit]")
        page.wait_for_selector("#nav-sidebar")
        for name, path in pages:
            response = page.goto(base + path)
            if response.status != 200:
                raise SystemExit(f"{path} answered {response.status}")
            page.screenshot(path=OUT / f"{name}.png", full_page=True)
            written.append(f"{name}.png")
        browser.close()
    return written


def main():
    work = Path(tempfile.mkdtemp(prefix="ocen-screenshots-"))
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ocen_registry.settings",
        "DATABASE_URL": f"sqlite:///{work}/db.sqlite3",
        "OCEN_ISSUER": f"http://127.0.0.1:{port}/auth",
        "DJANGO_DEBUG": "1",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    password = secrets.token_urlsafe(16)
    ids = seed(password, str(work / "keys"))
    server = subprocess.Popen(  # noqa: S603 — this interpreter and manage.py, no outside input
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        issue_tokens(base, ids["credentials"])
        written = shoot(base, password, ids)
    finally:
        server.terminate()
        server.wait(10)
    print("wrote " + ", ".join(f"docs/console/{name}" for name in written))


if __name__ == "__main__":
    main()
