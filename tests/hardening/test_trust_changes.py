"""A trust decision an administrator commits holds on the very next request, on every server.

Production mode throughout: two gunicorn servers (DJANGO_DEBUG=0) on one PostgreSQL and one Redis,
each having already served the participant (so anything a process might remember, it has seen)."""

import base64
import time
import uuid

import jwt as pyjwt
import pytest
import redis
import requests
from django.db import connection
from django.utils import timezone

from authapi import signing
from authapi.models import SigningKey, SigningKeyStatus
from participants import services
from participants.models import AuditEvent
from tests.hardening.conftest import REDIS_URL
from tests.keys import public_pem, rsa_key
from tests.ocen_sdk.conftest import Clock, onboard
from tests.servers import free_port, gunicorn, manage, production_env

ISSUER = "https://registry.test/auth"
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed."}
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def servers(two_servers):
    return two_servers(workers=2, OCEN_ISSUER=ISSUER, OCEN_TRUSTED_PROXY_COUNT=1, OCEN_REGISTRY_MAX_AGE=1)


def credentials_form(credentials, secret=None) -> dict:
    return {"client_id": credentials.participant.client_id, "client_secret": secret or credentials.client_secret}


def post(base, path, form, source="192.0.2.10", **headers):
    return requests.post(f"{base}{path}", data=form, headers={"X-Forwarded-For": source, **headers}, timeout=10)


def token(base, credentials) -> str:
    response = post(base, "/auth/token", credentials_form(credentials))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def details(base, access_token, participant_id):
    url = f"{base}/service/participant-roles/{participant_id}"
    return requests.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def introspect(base, caller, access_token, secret=None):
    return post(base, "/auth/introspect", {**credentials_form(caller, secret), "token": access_token})


@pytest.mark.parametrize("change", ["rotate", "withdraw", "suspend", "offboard"])
def test_withdrawn_credentials_stop_authenticating_everywhere_at_once(servers, actor, change):
    (a, b), _env = servers
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trust-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    lender_token = token(a, lender)
    for base in (a, b):  # every worker of both servers has authenticated the agent at least once
        for _ in range(4):
            agent_token = token(base, agent)
            assert introspect(base, agent, lender_token).json()["active"] is True

    if change == "rotate":
        services.rotate_client_secret(participant=agent.participant, actor=actor)
    elif change == "withdraw":  # key only from now on (private_key_jwt)
        services.withdraw_client_secret(participant=agent.participant, actor=actor, reason="leaked secret")
    elif change == "suspend":
        services.suspend_participant(participant=agent.participant, actor=actor, reason="leaked secret")
    else:
        services.offboard_participant(participant=agent.participant, actor=actor, reason="left the network")

    for base in (a, b):
        for n in range(10):  # from ten addresses, so that no failure throttle answers in the registry's place
            for path, extra in (
                ("/auth/introspect", {"token": lender_token}),
                ("/auth/revoke", {"token": agent_token}),
                ("/auth/token", {}),
            ):
                response = post(base, path, {**credentials_form(agent), **extra}, source=f"198.51.100.{n}")
                assert (response.status_code, response.json()) == (401, INVALID_CLIENT), (base, path)


def assertion_form(client_id: str, key_name: str) -> dict:
    """A private_key_jwt token request signed with rsa_key(key_name), with a fresh jti."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{ISSUER}/token", "exp": now + 60, "jti": uuid.uuid4().hex}
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": pyjwt.encode(claims, rsa_key(key_name), algorithm="RS256"),
    }


def test_a_revoked_participant_key_is_refused_everywhere_on_the_next_request(servers, actor):
    (a, b), _env = servers
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trust-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    participant, cid = lender.participant, lender.participant.client_id
    old = participant.keys.get()
    services.add_participant_key(
        participant=participant,
        public_key=public_pem(rsa_key("trust-lender-2")),
        actor=actor,
        primary_from=timezone.now(),
    )
    agent_token = token(a, agent)

    def published(base) -> dict:
        keys = details(base, agent_token, participant.id).json()["publicKeys"]["keys"]
        return {k["kid"]: k["status"] for k in keys}

    for base in (a, b):  # every worker has rendered the record and taken an assertion signed by the old key
        for _ in range(4):
            assert published(base)[old.kid] == "ACTIVE"
            assert post(base, "/auth/token", assertion_form(cid, "trust-lender")).status_code == 200

    services.revoke_key(key=old, actor=actor, reason="private key leaked")

    for base in (a, b):
        for n in range(4):  # from four addresses, so that no failure throttle answers in the registry's place
            assert published(base)[old.kid] == "REVOKED"
            refused = post(base, "/auth/token", assertion_form(cid, "trust-lender"), source=f"198.51.100.{n}")
            assert (refused.status_code, refused.json()) == (401, INVALID_CLIENT), base
        assert post(base, "/auth/token", assertion_form(cid, "trust-lender-2")).status_code == 200


def test_a_revoked_signing_key_is_refused_everywhere_on_the_next_request(servers, actor):
    (a, b), env = servers
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trust-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    old_token = token(a, agent)
    old_kid = pyjwt.get_unverified_header(old_token)["kid"]
    for base in (a, b):
        assert details(base, old_token, lender.participant.id).status_code == 200
        assert introspect(base, lender, old_token).json()["active"] is True

    revoked = manage(env, "revoke_signing_key", "--reason", "private key found on a laptop", "--", old_kid)
    assert revoked.returncode == 0, revoked.stderr

    for base in (a, b):
        assert details(base, old_token, lender.participant.id).status_code == 401
        assert introspect(base, lender, old_token).json() == {"active": False}
        assert old_kid not in {k["kid"] for k in requests.get(f"{base}/auth/certs", timeout=10).json()["keys"]}
        new_token = token(base, agent)  # the next token is signed by the key that replaced it
        assert pyjwt.get_unverified_header(new_token)["kid"] != old_kid
        answer = details(base, new_token, lender.participant.id)
        assert answer.status_code == 200
        assert pyjwt.get_unverified_header(answer.headers["x-jws-signature"])["kid"] != old_kid
    assert AuditEvent.objects.filter(action="signing_key.revoked", details__kid=old_kid).count() == 1


def test_the_runbooks_shortened_key_life_holds_at_once(servers, actor):
    """The older runbook (rotate at once, then end the old key's verification now) works as it says."""
    (a, b), env = servers
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trust-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    old_token = token(a, agent)
    assert manage(env, "rotate_signing_key", "--now").returncode == 0
    for base in (a, b):
        assert details(base, old_token, lender.participant.id).status_code == 200  # retired keys still verify
    SigningKey.objects.filter(status=SigningKeyStatus.RETIRED).update(verify_until=timezone.now())
    for base in (a, b):
        assert details(base, old_token, lender.participant.id).status_code == 401
        assert introspect(base, lender, old_token).json() == {"active": False}


def test_a_verifier_drops_a_withdrawn_signing_key_once_its_jwks_copy_is_stale(transactional_db, settings, actor):
    """A provider's Verifier that has seen a genuine token refuses a token forged with the withdrawn
    private key as soon as its copy of the JWKS is older than the registry's max-age (1 s here)."""
    from ocen_sdk import RegistryClient, RegistryKeys, TokenClient, VerificationError, Verifier

    port = free_port()
    issuer = f"http://127.0.0.1:{port}/auth"
    env = production_env(connection.settings_dict, OCEN_ISSUER=issuer, OCEN_REGISTRY_MAX_AGE=1)
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [env["OCEN_SIGNING_KEY_ENCRYPTION_KEYS"]]
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trust-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    with gunicorn(env, port=port) as base:
        genuine = token(base, agent)
        old_kid = pyjwt.get_unverified_header(genuine)["kid"]
        tokens = TokenClient(f"{issuer}/token", lender.participant.client_id, lender.client_secret)
        clock = Clock()  # the Verifier's copy ages when the test says: no waiting out the max-age
        keys = RegistryKeys(issuer, clock=clock)
        verifier = Verifier(issuer, RegistryClient(f"{base}/service", tokens, keys=keys, clock=clock))
        assert verifier.verify_token(f"Bearer {genuine}")["participantId"] == str(agent.participant.id)

        assert manage(env, "revoke_signing_key", "--reason", "compromised", "--", old_kid).returncode == 0
        claims = pyjwt.decode(genuine, options={"verify_signature": False})
        forged = pyjwt.encode(
            {**claims, "jti": "forged"}, signing.private_key(old_kid), algorithm="RS256", headers={"kid": old_kid}
        )
        clock.advance(1)  # the registry's max-age for its JWKS
        with pytest.raises(VerificationError) as refused:
            verifier.verify_token(f"Bearer {forged}")
        assert refused.value.reason == "unknown_kid"


def test_failures_from_one_address_never_refuse_the_right_secret_from_another(servers, actor, settings):
    (a, b), _env = servers
    victim, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    attacker = "203.0.113.66"
    responses = [post(base, "/auth/token", credentials_form(victim, "wrong"), source=attacker) for base in (a, b) * 10]
    assert {r.status_code for r in responses[:9]} == {401} and {r.status_code for r in responses[9:]} == {429}
    assert int(responses[-1].headers["Retry-After"]) > 0  # the attacker is told to back off
    for base in (a, b):  # the victim, from its own address or even from the attacker's, is never refused
        assert post(base, "/auth/token", credentials_form(victim), source="198.51.100.20").status_code == 200
        assert post(base, "/auth/token", credentials_form(victim), source=attacker).status_code == 200
    # The failures are a signal on the participant, in the audit trail, not a lock.
    signal = AuditEvent.objects.get(action="client.authentication_failures", participant=victim.participant)
    assert signal.details["clientId"] == victim.participant.client_id and signal.details["lastSource"] == attacker


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_the_throttle_counts_the_client_id_that_is_authenticated(servers, actor):
    """Percent-encoding characters of the client ID in HTTP Basic (RFC 6749 §2.3.1 form-encodes it, so it
    decodes to the same ID) counts against that same client ID."""
    (a, b), _env = servers
    victim, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    client_id = victim.participant.client_id
    variants = ["".join(f"%{ord(c):02X}" if i == n else c for i, c in enumerate(client_id)) for n in range(10)]
    statuses = [
        post(base, "/auth/token", {}, Authorization=basic(variant, "wrong")).status_code
        for base, variant in zip((a, b) * 5, variants, strict=True)
    ]
    assert statuses == [401] * 9 + [429]  # ten spellings, one client ID: one count
    assert post(a, "/auth/token", {}, Authorization=basic(client_id.lower(), "wrong")).status_code == 401  # another ID


def test_credentials_sent_two_ways_are_refused(servers, actor):
    (a, _b), _env = servers
    victim, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    decoy, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trust-agent")
    for form in ({"client_id": decoy.participant.client_id}, {"client_secret": "x"}, credentials_form(decoy)):
        response = post(a, "/auth/token", form, Authorization=basic(victim.participant.client_id, "wrong"))
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    same = post(
        a,
        "/auth/token",
        {"client_id": victim.participant.client_id},
        Authorization=basic(victim.participant.client_id, victim.client_secret),
    )
    assert same.status_code == 200  # the body naming the same client is not a second method


@pytest.mark.parametrize("path", ["/auth/introspect", "/auth/revoke"])
def test_introspection_and_revocation_failures_are_throttled_too(servers, actor, path):
    (a, b), _env = servers
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "trust-lender")
    attacker = "203.0.113.66"
    statuses = [
        post(base, path, {**credentials_form(lender, "wrong"), "token": "x"}, source=attacker).status_code
        for base in (a, b) * 6
    ]
    assert statuses[:9] == [401] * 9 and statuses[9:] == [429, 429, 429]
    assert post(a, path, {**credentials_form(lender), "token": "x"}, source="198.51.100.20").status_code == 200


def test_a_flood_of_failures_keeps_a_bounded_number_of_counters(servers, actor):
    (a, b), _env = servers
    cache = redis.Redis.from_url(REDIS_URL)
    before = cache.dbsize()
    session = requests.Session()
    for n in range(400):
        form = {"client_id": f"no-such-client-{n}", "client_secret": "x"}
        session.post(f"{(a, b)[n % 2]}/auth/token", data=form, headers={"X-Forwarded-For": "203.0.113.66"}, timeout=10)
    # One source: its own counter and lock, and a counter per client ID it tried until it was refused.
    assert cache.dbsize() - before <= 2 + 2 * 100


def admin_login(base, username, password, source):
    """A login as a browser makes it: GET the form (CSRF cookie and token), POST it back."""
    import re

    session = requests.Session()
    page = session.get(f"{base}/admin/login/", headers={"X-Forwarded-For": source}, timeout=10)
    cookie = page.cookies.get("csrftoken") or re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"])[1]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    return session.post(
        f"{base}/admin/login/?next=/admin/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"X-Forwarded-For": source, "Cookie": f"csrftoken={cookie}", "Referer": f"{base}/admin/login/"},
        allow_redirects=False,
        timeout=10,
    )


def test_admin_lockouts_are_audited_in_production(transactional_db, registry_admin):
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = production_env(connection.settings_dict, REDIS_URL=REDIS_URL, OCEN_ADMIN_LOGIN_FAILURE_LIMIT=2)
    with gunicorn(env, workers=2) as base:
        statuses = [admin_login(base, "asha", "wrong", "192.0.2.1").status_code for _ in range(8)]
    assert statuses[:1] == [200] and statuses[1:] == [429] * 7  # locked out at the second failure
    [lockout] = AuditEvent.objects.filter(action="admin.locked_out")  # once: not again for each refused attempt
    assert (lockout.remote_addr, lockout.details["username"]) == ("127.0.0.1", "asha")


def test_an_admin_lockout_holds_only_for_the_address_the_proxy_reports(transactional_db, registry_admin):
    from tests.conftest import STAFF_PASSWORD

    redis.Redis.from_url(REDIS_URL).flushdb()
    env = production_env(
        connection.settings_dict, REDIS_URL=REDIS_URL, OCEN_TRUSTED_PROXY_COUNT=1, OCEN_ADMIN_LOGIN_FAILURE_LIMIT=2
    )
    with gunicorn(env, workers=2) as base:
        assert [admin_login(base, "asha", "wrong", "203.0.113.66").status_code for _ in range(2)] == [200, 429]
        assert admin_login(base, "asha", STAFF_PASSWORD, "203.0.113.66").status_code == 429
        assert admin_login(base, "asha", STAFF_PASSWORD, "198.51.100.20").status_code == 302  # signed in
    assert {e.remote_addr for e in AuditEvent.objects.filter(action="admin.locked_out")} == {"203.0.113.66"}


def test_a_rejection_withholds_the_applications_keys_everywhere_on_the_next_request(servers, actor):
    (a, b), _env = servers
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trust-agent")
    applicant, _ = onboard(actor, "Applicant Finance", "LENDER", "trust-applicant", pending="UNDER_REVIEW")
    application = applicant.participant
    agent_token = token(a, agent)
    for base in (a, b):  # every worker has rendered the application's record, its key named
        for _ in range(4):
            assert details(base, agent_token, application.id).json()["publicKey"] is not None

    services.reject_participant(participant=application, actor=actor, reason="licence not shown")

    for base in (a, b):
        for _ in range(4):
            record = details(base, agent_token, application.id).json()
            assert record["participantRoleStatus"] == "REJECTED" and record["publicKey"] is None, base
            assert all(key["withheld"] for key in record["publicKeys"]["keys"]), base
