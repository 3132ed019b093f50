"""TokenClient and RegistryClient against a live registry: caching, one request in flight, ETag
revalidation, the unknown-kid refresh limit, and refusal of a registry answer that fails its signature."""

import json
import threading

import pytest

from ocen_sdk import RegistryClient, RegistryError, RegistryKeys, TokenClient, TokenError
from participants import services
from tests.ocen_sdk.conftest import onboard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def agent(registry, actor):
    credentials, _kid = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "clients-agent")
    return credentials


@pytest.fixture
def lender(registry, actor):
    credentials, _kid = onboard(actor, "Bharat Lending Bank", "LENDER", "clients-lender")
    return credentials


@pytest.fixture
def tokens(registry, agent):
    client = TokenClient(f"{registry['issuer']}/token", agent.participant.client_id, agent.client_secret)
    yield client
    client.close()


@pytest.fixture
def registry_client(registry, tokens):
    client = RegistryClient(registry["service"], tokens, keys=RegistryKeys(registry["issuer"]))
    yield client
    client.close()


def test_token_is_cached_and_fetched_once_under_concurrency(tokens):
    results, barrier = [], threading.Barrier(16)

    def ask():
        barrier.wait()
        results.append(tokens.token())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and tokens.requests_made == 1
    assert tokens.token() == results[0] and tokens.requests_made == 1


def test_token_is_renewed_shortly_before_it_expires(registry, agent):
    eager = TokenClient(f"{registry['issuer']}/token", agent.participant.client_id, agent.client_secret, margin=3600)
    try:
        first, second = eager.token(), eager.token()
        assert first != second and eager.requests_made == 2  # inside the margin every call renews
    finally:
        eager.close()


def test_token_errors_carry_the_servers_error(registry, agent):
    wrong = TokenClient(f"{registry['issuer']}/token", agent.participant.client_id, "not-the-secret")
    with pytest.raises(TokenError) as excinfo:
        wrong.token()
    assert excinfo.value.error == "invalid_client" and excinfo.value.status == 401
    wrong.close()


def test_registry_answers_are_cached_and_revalidated_with_etags(registry_client, lender, actor, settings):
    statuses = []
    registry_client.session.hooks["response"].append(lambda r, *args, **kwargs: statuses.append(r.status_code))
    settings.OCEN_REGISTRY_MAX_AGE = 300
    pid = str(lender.participant.id)
    first = registry_client.participant(pid)
    assert registry_client.participant(pid) == first and statuses == [200]  # fresh: no request at all
    settings.OCEN_REGISTRY_MAX_AGE = 0
    registry_client.participant(pid, refresh=True)  # stale entry: revalidated, unchanged
    assert statuses == [200, 304]
    services.update_participant(participant=lender.participant, actor=actor, base_url="https://new.lender.in")
    assert registry_client.participant(pid, refresh=True)["baseUrl"] == "https://new.lender.in"
    assert statuses == [200, 304, 200]


def test_unknown_kid_refresh_is_rate_limited(registry, tokens, lender):
    client = RegistryClient(registry["service"], tokens, keys=RegistryKeys(registry["issuer"]), min_refresh_interval=60)
    try:
        pid = str(lender.participant.id)
        client.participant(pid)
        before = client.requests_made
        assert all(client.refresh_for_unknown_kid(pid) is None for _ in range(50))
        assert client.requests_made == before  # a flood of bad kids costs the registry nothing
    finally:
        client.close()


def test_a_registry_answer_whose_signature_fails_is_refused(registry_client, lender):
    def tamper(response, *args, **kwargs):
        if "/participant-roles/" in response.url:
            response._content = response.content.replace(b"https://", b"http://")

    registry_client.session.hooks["response"].append(tamper)
    with pytest.raises(RegistryError, match="does not verify"):
        registry_client.participant(str(lender.participant.id))


def test_verifier_refusals(registry, registry_client, tokens, agent, actor):
    from ocen_sdk import VerificationError, Verifier, sign
    from tests.keys import rsa_key

    verifier = Verifier(registry["issuer"], registry_client)
    kid = agent.participant.keys.get().kid
    body = json.dumps({"metadata": {"originatorParticipantId": str(agent.participant.id)}}).encode()
    good = {"Authorization": f"Bearer {tokens.token()}", "x-jws-signature": sign(body, rsa_key("clients-agent"), kid)}
    assert verifier.verify_request(good, body)["id"] == str(agent.participant.id)
    assert verifier.verify_request({**good, "Signature": good.pop("x-jws-signature")}, body)  # the docs' header name

    def reason(headers, payload=body):
        with pytest.raises(VerificationError) as excinfo:
            verifier.verify_request(headers, payload)
        return excinfo.value.reason

    signed = {"Authorization": f"Bearer {tokens.token()}", "x-jws-signature": sign(body, rsa_key("clients-agent"), kid)}
    assert reason({"x-jws-signature": signed["x-jws-signature"]}) == "token_missing"
    assert reason({**signed, "Authorization": "Bearer not.a.jwt"}) == "token_invalid"
    assert reason({"Authorization": signed["Authorization"]}) == "signature_missing"
    other = json.dumps({"metadata": {"originatorParticipantId": "someone-else"}}).encode()
    assert (
        reason({**signed, "x-jws-signature": sign(other, rsa_key("clients-agent"), kid)}, other)
        == "originator_mismatch"
    )


def test_verifier_token_checks(registry, registry_client, tokens, agent):
    """Each rule of the token check, on tokens made by the registry's own key (joserfc, an independent
    JOSE library, makes the forged ones)."""
    import base64
    import time

    from joserfc import jwt as jose_jwt
    from joserfc.jwk import OctKey, RSAKey

    from authapi import signing
    from ocen_sdk import VerificationError, Verifier

    verifier = Verifier(registry["issuer"], registry_client)
    active = signing.active_kid()

    def sign(claims):
        return signing.sign(claims, active)

    now = int(time.time())
    good = {
        "iss": registry["issuer"],
        "aud": "ocen",
        "sub": "s",
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "participantId": str(agent.participant.id),
    }
    assert verifier.verify_token(f"Bearer {sign(good)}")["participantId"] == str(agent.participant.id)
    assert verifier.verify_token(f"Bearer {sign({**good, 'aud': ['x', 'ocen']})}")

    def reason(token):
        with pytest.raises(VerificationError) as excinfo:
            verifier.verify_token(f"Bearer {token}")
        return excinfo.value.reason

    assert reason(sign({**good, "exp": now - 120})) == "token_expired"
    assert reason(sign({**good, "nbf": now + 600})) == "token_invalid"
    assert reason(sign({**good, "iss": "https://elsewhere.example"})) == "token_invalid"
    assert reason(sign({**good, "aud": "other"})) == "token_invalid"
    assert reason(sign({k: v for k, v in good.items() if k != "sub"})) == "token_invalid"
    assert reason(sign({k: v for k, v in good.items() if k != "participantId"})) == "token_invalid"
    assert reason(sign({**good, "exp": "soon"})) == "token_invalid"
    real = sign(good)
    head, payload, sig = real.split(".")
    assert reason(f"{head}.{payload}.{sig[:-4]}AAAA") == "token_invalid"  # tampered signature
    assert reason(f"{head}.{payload[:-2]}xy.{sig}") == "token_invalid"  # tampered claims
    kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
    impostor = RSAKey.generate_key(2048)
    forged = jose_jwt.encode({"alg": "RS256", "kid": kid}, good, impostor)
    assert reason(forged) == "token_invalid"  # right kid, wrong key
    assert reason(jose_jwt.encode({"alg": "RS256", "kid": "nobody"}, good, impostor)) == "unknown_kid"
    hmac = jose_jwt.encode({"alg": "HS256", "kid": kid}, good, OctKey.generate_key(256), algorithms=["HS256"])
    assert reason(hmac) == "token_invalid"


def test_a_token_the_registry_stopped_honouring_is_replaced_once(registry_client, tokens, agent, lender, actor):
    """The leaked-secret runbook (suspend, rotate, reinstate) revokes the provider's own cached token; its
    next registry read gets a 401, takes a new token and succeeds, instead of failing for an hour."""
    lender_id = str(lender.participant.id)
    assert registry_client.participant(lender_id)["id"] == lender_id
    services.suspend_participant(participant=agent.participant, actor=actor, reason="leaked secret")
    services.reinstate_participant(participant=agent.participant, actor=actor)
    assert registry_client.participant(lender_id, refresh=True)["id"] == lender_id
    assert tokens.requests_made == 2


def test_a_registry_that_keeps_refusing_gets_one_retry_then_an_error(registry_client, tokens, agent, lender, actor):
    services.suspend_participant(participant=agent.participant, actor=actor, reason="under investigation")
    with pytest.raises((RegistryError, TokenError)):
        registry_client.participant(str(lender.participant.id))


@pytest.mark.parametrize(
    "answer",
    [
        (500, "text/html", b"<h1>Server Error</h1>"),
        (200, "application/json", b"[]"),
        (404, "application/json", b"{}"),
        (200, "application/json", b'{"keys": "none"}'),
    ],
)
def test_registry_keys_refuse_anything_but_the_expected_answer(serve, answer):
    status, content_type, body = answer

    def app(environ, start_response):
        if environ["PATH_INFO"].endswith("openid-configuration") and status == 200 and body != b"[]":
            issuer = f"http://{environ['HTTP_HOST']}/auth"
            document = json.dumps({"issuer": issuer, "jwks_uri": f"{issuer}/certs"}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [document]
        start_response(f"{status} X", [("Content-Type", content_type)])
        return [body]

    base = serve(app)
    with pytest.raises(RegistryError):
        RegistryKeys(f"{base}/auth").jwks()


def test_an_unreachable_registry_is_a_verification_error_not_a_crash(registry, agent, tokens):
    from ocen_sdk import VerificationError, Verifier

    token = tokens.token()
    nowhere = "http://127.0.0.1:9"  # nothing listens on the discard port
    offline = Verifier(
        registry["issuer"],
        RegistryClient(
            f"{nowhere}/service",
            TokenClient(f"{nowhere}/auth/token", "id", "secret"),
            keys=RegistryKeys(registry["issuer"]),
        ),
    )
    with pytest.raises(VerificationError) as failed:
        offline.verify_request({"Authorization": f"Bearer {token}", "x-jws-signature": "a..b"}, b"{}")
    assert failed.value.reason == "registry_unavailable"
    with pytest.raises(TokenError, match="unreachable"):
        TokenClient(f"{nowhere}/auth/token", "id", "secret").token()


def test_a_registry_that_cannot_be_asked_about_the_caller_is_an_outage_not_a_suspension(registry, agent, tokens):
    from ocen_sdk import VerificationError, Verifier

    token = tokens.token()
    nowhere = "http://127.0.0.1:9"  # nothing listens on the discard port
    verifier = Verifier(
        registry["issuer"], RegistryClient(f"{nowhere}/service", tokens, keys=RegistryKeys(registry["issuer"]))
    )
    with pytest.raises(VerificationError) as failed:
        verifier.verify_request({"Authorization": f"Bearer {token}", "x-jws-signature": "a..b"}, b"{}")
    assert failed.value.reason == "registry_unavailable"


def test_a_token_endpoint_answering_a_non_object_is_a_token_error(serve):
    def app(environ, start_response):
        start_response("502 Bad Gateway", [("Content-Type", "application/json")])
        return [b"[]"]

    with pytest.raises(TokenError):
        TokenClient(f"{serve(app)}/auth/token", "id", "secret").token()


def test_an_aged_copy_of_the_jwks_is_kept_only_for_what_remains_of_its_max_age(serve):
    fetched = []

    def app(environ, start_response):
        issuer = f"http://{environ['HTTP_HOST']}/auth"
        if environ["PATH_INFO"].endswith("openid-configuration"):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"issuer": issuer, "jwks_uri": f"{issuer}/certs"}).encode()]
        fetched.append(1)
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Cache-Control", "public, max-age=300"), ("Age", "300")]
        )
        return [b'{"keys": []}']

    keys = RegistryKeys(f"{serve(app)}/auth")
    keys.jwks()
    keys.jwks()
    assert len(fetched) == 2  # a shared cache had held it for all of its max-age: stale at once
