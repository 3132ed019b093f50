"""Two app servers (gunicorn, separate processes, DJANGO_DEBUG=0) on one PostgreSQL and one Redis behave as
one registry: every trust decision made through one holds on the very next request to the other."""

import time

import jwt as pyjwt
import pytest
import requests

from participants import services
from tests.ocen_sdk.conftest import onboard
from tests.servers import manage

ISSUER = "https://registry.test/auth"
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def servers(two_servers):
    return two_servers(
        OCEN_ISSUER=ISSUER, OCEN_TOKEN_FAILURE_LIMIT=3, OCEN_SERVICE_RATE_PER_MINUTE=6, OCEN_TRUSTED_PROXY_COUNT=1
    )


def token_at(base, credentials, secret=None, source="192.0.2.10"):
    form = {"client_id": credentials.participant.client_id, "client_secret": secret or credentials.client_secret}
    return requests.post(f"{base}/auth/token", data=form, headers={"X-Forwarded-For": source}, timeout=10)


def kid(token):
    return pyjwt.get_unverified_header(token)["kid"]


def reads_in_one_window(actor, base, urls, attempts=3) -> list:
    """GETs of `urls` by a new participant, all inside one fixed minute window of the servers' rate limit.
    The servers share this machine's clock: reads that straddled a minute boundary are made again by another
    new participant (a counter of its own), rather than waiting for the next window."""
    for n in range(attempts):
        reader, _ = onboard(actor, f"Aadhaar KYC Services {n}", "KYC_PARTNER", f"multi-kyc-{n}")
        headers = {"Authorization": f"Bearer {token_at(base, reader).json()['access_token']}"}
        window = time.time() // 60
        reads = [requests.get(url, headers=headers, timeout=10) for url in urls]
        if time.time() // 60 == window:
            return reads
    raise AssertionError(f"no {len(urls)} reads fitted in one minute window in {attempts} attempts")


def test_two_servers_share_keys_counters_and_state(servers, actor):
    (a, b), env = servers
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "multi-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "multi-lender")

    # A token from A verifies with B's JWKS, and B accepts it.
    token = token_at(a, agent).json()["access_token"]
    key = pyjwt.PyJWKClient(f"{b}/auth/certs").get_signing_key_from_jwt(token)
    assert pyjwt.decode(token, key.key, algorithms=["RS256"], audience="ocen", issuer=ISSUER)
    details = f"/service/participant-roles/{lender.participant.id}"
    assert requests.get(b + details, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200

    # One rotation, run once, signs the next token at either server, with no delay.
    old_kid = kid(token)
    assert manage(env, "rotate_signing_key", "--now").returncode == 0
    new_kids = {kid(token_at(base, agent).json()["access_token"]) for base in (a, b, a, b)}
    assert len(new_kids) == 1 and old_kid not in new_kids
    for base in (a, b):
        assert {k["kid"] for k in requests.get(f"{base}/auth/certs", timeout=10).json()["keys"]} == {old_kid, *new_kids}

    # Failure counters are shared: failures from one source at either server count together …
    assert [token_at(base, lender, secret="wrong").status_code for base in (a, b, a, b)] == [401, 401, 429, 429]
    # … throttle only that source, and never the right secret.
    assert token_at(a, lender, secret="wrong", source="198.51.100.7").status_code == 401
    assert token_at(b, lender).status_code == 200

    # Rate-limit windows are shared too: six reads in a minute across both servers, then 429 at either.
    reads = reads_in_one_window(actor, a, [base + details for base in (a, b, a, b, a, b, a, b)])
    assert [r.status_code for r in reads] == [200] * 6 + [429, 429]

    # Offboarding is enforced by both at once.
    services.offboard_participant(participant=agent.participant, actor=actor)
    assert requests.get(b + details, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401
    assert token_at(a, agent).status_code == 401


def test_one_client_assertion_replayed_in_parallel_across_servers_and_workers_gets_one_token(two_servers, actor):
    """The replay store is the shared cache: twenty copies of one private_key_jwt assertion, sent at once to two
    servers of two gunicorn workers each, are worth exactly one token."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.hardening.test_trust_changes import assertion_form

    (a, b), _env = two_servers(workers=2, OCEN_ISSUER=ISSUER)
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    form = assertion_form(lender.participant.client_id, "trust-lender")
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(
                lambda n: requests.post(f"{(a, b)[n % 2]}/auth/token", data=form, timeout=20).status_code, range(20)
            )
        )
    assert answers.count(200) == 1, answers
    assert set(answers) <= {200, 401, 429}  # a replay is refused (429 once it has failed often from one address)


@pytest.mark.parametrize(
    ("env", "fails"),
    [
        ({}, True),
        ({"OCEN_SINGLE_PROCESS_ACKNOWLEDGED": "1"}, False),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, False),
    ],
)
def test_check_deploy_refuses_a_production_registry_without_shared_state_unless_it_is_one_process(env, fails):
    from tests.participants.test_operator_accounts import deploy_check

    done = deploy_check(**{"REDIS_URL": "", **env})
    assert ("ocen.E003" in done.stderr) is fails and (done.returncode != 0) is fails
