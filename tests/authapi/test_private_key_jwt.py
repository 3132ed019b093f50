"""No shared secrets and no replayable tokens: private_key_jwt client authentication (RFC 7523, OpenID
Connect Core §9) and audience-bound tokens (RFC 8707), over real HTTP to a live registry, with assertions
signed by PyJWT and, independently, by joserfc."""

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import time
import uuid
from urllib.parse import urlencode

import jwt as pyjwt
import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import RSAKey

from ocen_sdk import RegistryClient, RegistryKeys, TokenClient, VerificationError, Verifier
from participants import services
from participants.models import AuditEvent, ParticipantKey
from tests.keys import ec_key, private_pem, public_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def issuer(live_server, settings):
    settings.OCEN_ISSUER = f"{live_server.url}/auth"
    return settings.OCEN_ISSUER


def onboard(actor, name, role, key, *, key_only=True):
    return services.onboard_participant(
        org_name=name,
        role=role,
        base_url=f"https://{name.lower()}.example.in/ocen",
        public_key=public_pem(key),
        actor=actor,
        key_only=key_only,
    )


@pytest.fixture
def lender(actor):
    return onboard(actor, "Keyonly", "LENDER", rsa_key("pkjwt-lender"))


@pytest.fixture
def agent(actor):
    return onboard(actor, "Agentco", "LOAN_AGENT", rsa_key("pkjwt-agent"), key_only=False)


def claims_for(client_id: str, issuer: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{issuer}/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def pyjwt_assertion(key, claims: dict, alg="RS256", headers=None) -> str:
    return pyjwt.encode(claims, key, algorithm=alg, headers=headers)


def token_request(issuer: str, assertion: str, **extra) -> requests.Response:
    form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion}
    return requests.post(f"{issuer}/token", data={**form, **extra}, timeout=10)


def test_a_key_only_participant_gets_tokens_signed_by_pyjwt_and_by_joserfc(issuer, lender):
    client_id = lender.participant.client_id
    by_pyjwt = pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(client_id, issuer))
    joserfc_key = RSAKey.import_key(private_pem(rsa_key("pkjwt-lender")))
    # aud as a list naming the issuer (RFC 7519 allows either form).
    by_joserfc = joserfc_jwt.encode({"alg": "RS256"}, claims_for(client_id, issuer, aud=[issuer]), joserfc_key)
    for assertion in (by_pyjwt, by_joserfc):
        response = token_request(issuer, assertion)
        assert response.status_code == 200, response.text
        claims = pyjwt.decode(response.json()["access_token"], options={"verify_signature": False})
        assert claims["participantId"] == str(lender.participant.id) and claims["aud"] == "ocen"
    assert lender.client_secret is None and "clientSecret" not in lender.as_json()


def expired(client_id, issuer):
    now = int(time.time())
    return claims_for(client_id, issuer, iat=now - 900, exp=now - 600)


REFUSALS = {
    "expired": lambda cid, iss: (expired(cid, iss), {}),
    "too-long-lived": lambda cid, iss: (claims_for(cid, iss, exp=int(time.time()) + 3600), {}),
    "wrong-audience": lambda cid, iss: (claims_for(cid, iss, aud="https://another.example.in/token"), {}),
    "no-jti": lambda cid, iss: (claims_for(cid, iss, jti=None), {}),
    "sub-is-not-the-client": lambda cid, iss: (claims_for(cid, iss, sub="someone-else"), {}),
    "iss-is-not-the-client": lambda cid, iss: (claims_for(cid, iss, iss="someone-else"), {}),
    "not-yet-valid": lambda cid, iss: (claims_for(cid, iss, nbf=int(time.time()) + 900), {}),
    "issued-in-the-future": lambda cid, iss: (claims_for(cid, iss, iat=int(time.time()) + 900), {}),
    "exp-not-a-number": lambda cid, iss: (claims_for(cid, iss, exp="soon"), {}),
    "exp-a-boolean": lambda cid, iss: (claims_for(cid, iss, exp=True), {}),
    "audience-list-without-the-registry": lambda cid, iss: (claims_for(cid, iss, aud=["https://x.example.in"]), {}),
    "audience-list-with-a-foreign-value": lambda cid, iss: (
        claims_for(cid, iss, aud=[f"{iss}/token", "https://elsewhere.example.in"]),
        {},
    ),
    "just-over-five-minutes": lambda cid, iss: (claims_for(cid, iss, exp=int(time.time()) + 305), {}),
    "jti-too-long": lambda cid, iss: (claims_for(cid, iss, jti="j" * 300), {}),
    "jti-not-a-string": lambda cid, iss: (claims_for(cid, iss, jti=42), {}),
    "crit-header": lambda cid, iss: (claims_for(cid, iss), {"crit": ["exp"]}),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_assertion_is_the_same_invalid_client_as_an_unknown_client(issuer, lender, case):
    unknown = token_request(issuer, "not.a.jwt", client_id="nobody")
    claims, headers = REFUSALS[case](lender.participant.client_id, issuer)
    refused = token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-lender"), claims, headers=headers))
    assert refused.status_code == unknown.status_code == 401
    assert refused.json() == unknown.json() and unknown.json()["error"] == "invalid_client"


def test_an_assertion_that_names_no_possible_client_is_invalid_client_not_a_crash(issuer):
    # No client_id: the client is the assertion's sub, here a lone surrogate (JSON allows the escape).
    forged = f"{b64(json.dumps({'alg': 'RS256'}))}.{b64(json.dumps({'sub': chr(0xD800)}))}.AA"
    for endpoint in ("token", "introspect", "revoke"):
        form = {"client_assertion_type": JWT_BEARER, "client_assertion": forged, "token": "x"}
        refused = requests.post(f"{issuer}/{endpoint}", data=form, timeout=10)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_an_assertion_works_once(issuer, lender):
    assertion = pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(lender.participant.client_id, issuer))
    assert token_request(issuer, assertion).status_code == 200
    replayed = token_request(issuer, assertion)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"


def b64(data) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_algorithms_other_than_the_keys_own_are_refused(issuer, lender):
    claims = claims_for(lender.participant.client_id, issuer)
    unsigned = pyjwt.encode(claims, None, algorithm="none")
    # HS256 keyed with the participant's *public* key, which anyone can read from the registry (written by
    # hand: PyJWT itself refuses to make one).
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}))}.{b64(json.dumps(claims))}"
    mac = hmac.new(public_pem(rsa_key("pkjwt-lender")), signing_input.encode(), hashlib.sha256).digest()
    hmac_over_public_key = f"{signing_input}.{b64(mac)}"
    for assertion in (unsigned, hmac_over_public_key):
        assert token_request(issuer, assertion).json()["error"] == "invalid_client"


def test_another_participants_key_and_unusable_keys_are_refused(issuer, actor, lender, agent, settings):
    cid = lender.participant.client_id
    # Signed by the loan agent's key, naming the lender's client.
    assert token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-agent"), claims_for(cid, issuer))).status_code == 401

    participant = lender.participant
    old = participant.keys.get()
    new = services.add_participant_key(
        participant=participant,
        public_key=public_pem(rsa_key("pkjwt-lender-2")),
        actor=actor,
        primary_from=timezone.now(),
    )
    services.retire_key(key=old, actor=actor)
    # Retired, inside its grace period: still accepted (a verifier would accept its signatures).
    assert token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(cid, issuer))).status_code == 200
    # The grace period over.
    past = timezone.now() - dt.timedelta(minutes=1)
    ParticipantKey.objects.filter(pk=old.pk).update(valid_from=past - dt.timedelta(hours=1), valid_until=past)
    past_grace = token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(cid, issuer)))
    assert past_grace.status_code == 401
    # Revoked.
    assert token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-lender-2"), claims_for(cid, issuer))).status_code == 200
    third = services.add_participant_key(
        participant=participant, public_key=public_pem(rsa_key("pkjwt-lender-3")), actor=actor
    )
    services.revoke_key(key=new, actor=actor, reason="leaked", successor_kid=third.kid)  # new was primary
    revoked = token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-lender-2"), claims_for(cid, issuer)))
    assert revoked.status_code == 401
    # A named kid selects that key only.
    wrong_kid = {"kid": third.kid}
    named = pyjwt_assertion(rsa_key("pkjwt-lender-2"), claims_for(cid, issuer), headers=wrong_kid)
    assert token_request(issuer, named).status_code == 401
    named = pyjwt_assertion(rsa_key("pkjwt-lender-3"), claims_for(cid, issuer), headers=wrong_kid)
    assert token_request(issuer, named).status_code == 200


def test_a_suspended_participants_assertions_are_refused(issuer, actor, lender):
    services.suspend_participant(participant=lender.participant, actor=actor, reason="audit")
    assertion = pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(lender.participant.client_id, issuer))
    assert token_request(issuer, assertion).status_code == 401


def test_es256_where_ec_keys_are_allowed(issuer, actor, settings):
    settings.OCEN_PARTICIPANT_KEY_TYPES = ["RSA", "EC"]
    kyc = onboard(actor, "Ecco", "KYC_PARTNER", ec_key("pkjwt-ec"))
    assertion = pyjwt_assertion(ec_key("pkjwt-ec"), claims_for(kyc.participant.client_id, issuer), alg="ES256")
    assert token_request(issuer, assertion).status_code == 200
    settings.OCEN_PARTICIPANT_KEY_TYPES = ["RSA"]
    again = pyjwt_assertion(ec_key("pkjwt-ec"), claims_for(kyc.participant.client_id, issuer), alg="ES256")
    assert token_request(issuer, again).status_code == 401


def test_introspection_and_revocation_accept_private_key_jwt(issuer, lender, agent):
    token = TokenClient(f"{issuer}/token", agent.participant.client_id, agent.client_secret).token()
    cid = lender.participant.client_id
    assertion = {
        "client_id": cid,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(cid, issuer)),
    }
    introspected = requests.post(f"{issuer}/introspect", data={**assertion, "token": token}, timeout=10)
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    replayed = requests.post(f"{issuer}/introspect", data={**assertion, "token": token}, timeout=10)
    assert replayed.status_code == 401


def test_a_secret_and_an_assertion_together_are_invalid_request(issuer, agent):
    assertion = pyjwt_assertion(rsa_key("pkjwt-agent"), claims_for(agent.participant.client_id, issuer))
    both = token_request(issuer, assertion, client_secret=agent.client_secret)
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_assertion_failures_count_towards_the_throttle(issuer, lender, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 3
    cid = lender.participant.client_id
    statuses = [
        token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-agent"), claims_for(cid, issuer))).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 429, 429]
    # The right key is never refused by the throttle (authapi/abuse.py).
    assert token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(cid, issuer))).status_code == 200


def test_discovery_lists_private_key_jwt_with_its_algorithms(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == ["RS256"]


# --- Key-only participants ---------------------------------------------------------------------------


def command(name, *args) -> dict:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return json.loads(out.getvalue())


def test_onboarding_key_only_prints_no_secret(issuer, tmp_path, registry_admin):
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(public_pem(rsa_key("pkjwt-cli")))
    printed = command(
        "onboard_participant",
        "--org-name=Cliko",
        "--role=LENDER",
        "--base-url=https://cliko.example.in/ocen",
        f"--public-key={key_file}",
        "--key-only",
    )
    assert "clientSecret" not in printed and printed["clientAuthentication"] == ["private_key_jwt"]
    assertion = pyjwt_assertion(rsa_key("pkjwt-cli"), claims_for(printed["clientId"], issuer))
    assert token_request(issuer, assertion).status_code == 200


def test_withdrawing_a_secret_stops_it_at_once_and_is_audited(issuer, actor, agent):
    cid, secret = agent.participant.client_id, agent.client_secret
    form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    assert requests.post(f"{issuer}/token", data=form, timeout=10).status_code == 200
    printed = command("withdraw_client_secret", str(agent.participant.id), "--reason", "moving to private_key_jwt")
    assert printed["clientAuthentication"] == ["private_key_jwt"]
    assert requests.post(f"{issuer}/token", data=form, timeout=10).status_code == 401
    assert token_request(issuer, pyjwt_assertion(rsa_key("pkjwt-agent"), claims_for(cid, issuer))).status_code == 200
    event = AuditEvent.objects.get(action="participant.secret_withdrawn")
    assert event.details == {"clientId": cid, "reason": "moving to private_key_jwt"}
    with pytest.raises(CommandError, match="no client secret to rotate"):
        call_command("rotate_client_secret", str(agent.participant.id))


def test_a_suspended_participants_leaked_secret_can_be_withdrawn_and_a_reason_is_required(issuer, actor, agent):
    services.suspend_participant(participant=agent.participant, actor=actor, reason="secret leaked")
    with pytest.raises(CommandError, match="reason"):
        call_command("withdraw_client_secret", str(agent.participant.id), "--reason", "  ")
    command("withdraw_client_secret", str(agent.participant.id), "--reason", "leaked")
    services.reinstate_participant(participant=agent.participant, actor=actor)
    form = {"grant_type": "client_credentials", "client_id": agent.participant.client_id}
    leaked = requests.post(f"{issuer}/token", data={**form, "client_secret": agent.client_secret}, timeout=10)
    assert leaked.status_code == 401


# --- Audience-bound tokens ------------------------------------------------------------------------------


def verifier(issuer, service, agent, participant_id, **options):
    tokens = TokenClient(f"{issuer}/token", agent.participant.client_id, agent.client_secret)
    registry = RegistryClient(service, tokens, keys=RegistryKeys(issuer))
    return Verifier(issuer, registry, participant_id=participant_id, **options)


def test_a_token_bound_to_a_provider_is_accepted_by_it_and_refused_by_another(
    issuer, live_server, actor, agent, lender
):
    kyc = onboard(actor, "Kycco", "KYC_PARTNER", rsa_key("pkjwt-kyc"), key_only=False)
    caller = TokenClient(f"{issuer}/token", agent.participant.client_id, agent.client_secret)
    bound = caller.token(audience=str(lender.participant.id))
    assert pyjwt.decode(bound, options={"verify_signature": False})["aud"] == str(lender.participant.id)
    by_resource = requests.post(
        f"{issuer}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": agent.participant.client_id,
            "client_secret": agent.client_secret,
            "resource": "https://keyonly.example.in/ocen/",
        },
        timeout=10,
    ).json()["access_token"]
    assert pyjwt.decode(by_resource, options={"verify_signature": False})["aud"] == str(lender.participant.id)

    service = f"{live_server.url}/service"
    named = verifier(issuer, service, kyc, str(lender.participant.id))
    other = verifier(issuer, service, kyc, str(kyc.participant.id))
    assert named.verify_token(f"Bearer {bound}")["participantId"] == str(agent.participant.id)
    with pytest.raises(VerificationError, match="Audience"):
        other.verify_token(f"Bearer {bound}")
    shared = caller.token()
    assert pyjwt.decode(shared, options={"verify_signature": False})["aud"] == "ocen"
    assert other.verify_token(f"Bearer {shared}")  # the shared audience, while it is accepted
    strict = verifier(issuer, service, kyc, str(kyc.participant.id), accept_shared_audience=False)
    with pytest.raises(VerificationError, match="Audience"):
        strict.verify_token(f"Bearer {shared}")
    # The registry honours a bound token too: introspection says whom it is for.
    introspected = requests.post(
        f"{issuer}/introspect",
        data={"client_id": kyc.participant.client_id, "client_secret": kyc.client_secret, "token": bound},
        timeout=10,
    ).json()
    assert introspected["active"] is True and introspected["aud"] == str(lender.participant.id)
    # ... but the registry API is not the provider it is bound to: a provider cannot replay it there.
    record = f"{service}/participant-roles/{agent.participant.id}"
    assert requests.get(record, headers={"Authorization": f"Bearer {bound}"}, timeout=10).status_code == 401
    assert requests.get(record, headers={"Authorization": f"Bearer {shared}"}, timeout=10).status_code == 200
    # The provider's ID is compared as a UUID, however it was configured.
    upper = verifier(issuer, service, kyc, str(lender.participant.id).upper())
    assert upper.verify_token(f"Bearer {bound}")


@pytest.mark.parametrize("target", ["unknown-id", "self", "suspended", "unknown-url", "not-a-uuid", "two"])
def test_a_token_cannot_be_bound_to_an_unknown_inactive_or_own_audience(issuer, actor, agent, lender, target):
    if target == "suspended":
        services.suspend_participant(participant=lender.participant, actor=actor, reason="audit")
    named = {
        "unknown-id": {"audience": str(uuid.uuid4())},
        "self": {"audience": str(agent.participant.id)},
        "suspended": {"audience": str(lender.participant.id)},
        "unknown-url": {"resource": "https://nobody.example.in/ocen"},
        "not-a-uuid": {"audience": "lender"},
        "two": {"resource": ["https://keyonly.example.in/ocen", "https://agentco.example.in/ocen"]},
    }[target]
    form = {
        "grant_type": "client_credentials",
        "client_id": agent.participant.client_id,
        "client_secret": agent.client_secret,
    }
    refused = requests.post(f"{issuer}/token", data={**form, **named}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"


def test_the_toolkit_keeps_one_token_per_audience_and_signs_assertions(issuer, lender, agent):
    # The key as text, and no kid: the registry tries each of the participant's usable keys.
    tokens = TokenClient(
        f"{issuer}/token", lender.participant.client_id, private_key=private_pem(rsa_key("pkjwt-lender")).decode()
    )
    shared, bound = tokens.token(), tokens.token(audience=str(agent.participant.id))
    assert tokens.token() == shared and tokens.token(audience=str(agent.participant.id)) == bound
    assert tokens.requests_made == 2 and shared != bound
    with pytest.raises(ValueError, match="not both"):
        TokenClient(f"{issuer}/token", "id", "secret", private_key=private_pem(rsa_key("pkjwt-lender")))


def test_a_private_key_jwt_grant_costs_what_a_secret_grant_does(client, lender, settings, django_assert_num_queries):
    """The client with its participant's keys in one statement, then the token insert (the replay store is
    the shared cache)."""
    cid = lender.participant.client_id

    def grant():
        assertion = pyjwt_assertion(rsa_key("pkjwt-lender"), claims_for(cid, settings.OCEN_ISSUER))
        form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion}
        return client.post("/auth/token", urlencode(form), content_type="application/x-www-form-urlencoded")

    assert grant().status_code == 200  # loads the signing key, which the process keeps
    with django_assert_num_queries(2):
        assert grant().status_code == 200
