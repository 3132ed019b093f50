"""Two app servers (gunicorn, separate processes) on one PostgreSQL and one Redis behave as one registry."""

import os
import subprocess
import sys
import time
from pathlib import Path

import jwt as pyjwt
import pytest
import redis
import requests
from django.db import connection

from participants import services
from tests.ocen_sdk.conftest import onboard
from tests.servers import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("OCEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def two_servers(transactional_db):
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}",
        "REDIS_URL": REDIS_URL, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "multi-server-" + "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "0", "OCEN_ISSUER": "https://registry.test/auth",
        "OCEN_AUTO_CREATE_SIGNING_KEY": "1", "OCEN_SIGNING_KEY_REFRESH": "1", "OCEN_TOKEN_FAILURE_LIMIT": "3",
        "OCEN_SERVICE_RATE_PER_MINUTE": "6",
    }  # fmt: skip
    ports = [free_port(), free_port()]
    gunicorn = [sys.executable, "-m", "gunicorn", "ocen_registry.wsgi", "-w", "1", "--log-level", "error"]
    servers = [subprocess.Popen([*gunicorn, "-b", f"127.0.0.1:{port}"], cwd=ROOT, env=env) for port in ports]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    for base in bases:
        wait_until_serving(f"{base}/healthz")
    yield bases, env
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


def token_at(base, credentials, secret=None):
    form = {"client_id": credentials.participant.client_id, "client_secret": secret or credentials.client_secret}
    return requests.post(f"{base}/auth/token", data=form, timeout=10)


def kid(token):
    return pyjwt.get_unverified_header(token)["kid"]


def test_two_servers_share_keys_counters_and_state(two_servers, actor):
    (a, b), env = two_servers
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "multi-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "multi-lender")

    # A token from A verifies with B's JWKS, and B accepts it.
    token = token_at(a, agent).json()["access_token"]
    key = pyjwt.PyJWKClient(f"{b}/auth/certs").get_signing_key_from_jwt(token)
    assert pyjwt.decode(token, key.key, algorithms=["RS256"], audience="ocen", issuer="https://registry.test/auth")
    details = f"/service/participant-roles/{lender.participant.id}"
    assert requests.get(b + details, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200

    # One rotation, run once, is served by both.
    old_kid = kid(token)
    subprocess.run(
        [sys.executable, "manage.py", "rotate_signing_key"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    time.sleep(1.2)  # OCEN_SIGNING_KEY_REFRESH
    new_kids = {kid(token_at(base, agent).json()["access_token"]) for base in (a, b)}
    assert len(new_kids) == 1 and old_kid not in new_kids
    for base in (a, b):
        assert {k["kid"] for k in requests.get(f"{base}/auth/certs", timeout=10).json()["keys"]} == {old_kid, *new_kids}

    # Lockout counters are shared: failures at either server count together.
    for base in (a, b, a):
        assert token_at(base, lender, secret="wrong").status_code == 401
    assert token_at(b, lender).status_code == 429

    # Rate-limit windows are shared too: six reads in a minute across both servers, then 429 at either.
    kyc, _ = onboard(actor, "Aadhaar KYC Services", "KYC_PARTNER", "multi-kyc")
    kyc_token = token_at(a, kyc).json()["access_token"]
    if time.time() % 60 > 50:  # keep the seven reads inside one fixed window
        time.sleep(61 - time.time() % 60)
    reads = [requests.get(base + details, headers={"Authorization": f"Bearer {kyc_token}"}, timeout=10)
             for base in (a, b, a, b, a, b, a)]  # fmt: skip
    assert [r.status_code for r in reads] == [200] * 6 + [429]
    assert requests.get(b + details, headers={"Authorization": f"Bearer {kyc_token}"}, timeout=10).status_code == 429

    # Offboarding is enforced by both at once.
    services.offboard_participant(participant=agent.participant, actor=actor)
    assert requests.get(b + details, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401
    assert token_at(a, agent).status_code == 401
