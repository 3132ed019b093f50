"""Existing OCEN participant code works unchanged: the public reference client (OCEN-AuthStarter: Spring
resource server with issuer discovery, jose4j detached JWS, Jackson DTOs) replayed over real HTTP, as
../shared/docs/ocen-background.md describes it — a form token request, a token check by discovery with
RS256 only, a signer without `crit` (kid or not), a verifier that reads only `publicKey` and casts it to
RSA, and a ParticipantDetail DTO that refuses unknown enum values and ignores unknown properties."""

import base64
import datetime as dt
import json
import re
import time

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone
from jwcrypto import jwk

from participants import services
from tests.keys import ec_key, jose4j_detached_signature, jose4j_header, jose4j_verifies, public_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# The reference client's enum and DTO (what Jackson maps; FAIL_ON_UNKNOWN_PROPERTIES=false).
REFERENCE_ROLES = {
    "LOAN_AGENT",
    "LENDER",
    "DERIVED_DATA_PROVIDER",
    "COLLECTIONS_PARTNER",
    "KYC_PARTNER",
    "DISBURSEMENT_PARTNER",
}
PARTICIPANT_DETAIL = (
    "id",
    "participantRole",
    "baseUrl",
    "publicKey",
    "participantRoleStatus",
    "isApproved",
    "approvedBy",
    "approvedOn",
    "status",
    "kcClientId",
    "createdOn",
    "updatedOn",
    "participant",
)
ORGANISATION = (
    "id",
    "participantName",
    "participantDescription",
    "participantWebsite",
    "participantEmail",
    "participantPhone",
    "participantLogo",
    "participantLogoContentType",
    "createdOn",
    "updatedOn",
)


class InvalidFormatException(Exception):
    """Jackson's answer to an enum value it does not know."""


class ClassCastException(Exception):
    """Java's answer to a non-RSA key cast to RSAPublicKey."""


def parse_participant_detail(document: dict) -> dict:
    """The DTO as Jackson builds it: every declared field (absent ones null), unknown ones ignored, the role
    one of the reference enum's values."""
    if document.get("participantRole") not in REFERENCE_ROLES:
        raise InvalidFormatException(
            f"Cannot deserialize value of type `Role` from String {document.get('participantRole')!r}"
        )
    dto = {name: document.get(name) for name in PARTICIPANT_DETAIL}
    dto["participant"] = {name: (document.get("participant") or {}).get(name) for name in ORGANISATION}
    return dto


def reference_token(registry: str, credentials, path: str = "/auth/token", **extra) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.participant.client_id,
        "client_secret": credentials.client_secret,
        **extra,
    }
    response = requests.post(f"{registry}{path}", data=form, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def reference_token_check(issuer: str, token: str) -> dict:
    """Spring's issuer-based resolver: discovery, jwks_uri, RS256 only, iss and times."""
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    key = pyjwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    return pyjwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, options={"verify_aud": False})


class ReferenceProvider:
    """A provider running the reference client: its own token, the caller's record fetched (and cached for
    the max-age the registry gave), the caller's `publicKey` cast to RSA, RS256 over the raw body."""

    def __init__(self, registry: str, credentials):
        self.registry, self.token = registry, reference_token(registry, credentials)
        self.cache: dict[str, tuple[float, dict]] = {}
        self.max_ages: list[tuple[float, int]] = []  # (when fetched, max-age given)

    def record(self, participant_id: str) -> dict:
        cached = self.cache.get(participant_id)
        if cached and time.time() < cached[0]:
            return cached[1]
        response = requests.get(
            f"{self.registry}/service/participant-roles/{participant_id}",
            timeout=10,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        max_age = int(re.search(r"max-age=(\d+)", response.headers["Cache-Control"])[1])
        self.max_ages.append((time.time(), max_age))
        dto = parse_participant_detail(response.json())
        self.cache[participant_id] = (time.time() + max_age, dto)
        return dto

    def accepts(self, caller_token: str, body: bytes, signature: str) -> bool:
        """401 "Invalid Signature" is False."""
        claims = reference_token_check(f"{self.registry}/auth", caller_token)
        public_key_json = self.record(claims["participantId"])["publicKey"]
        if public_key_json is None:
            return False  # jose4j cannot build a key from null: the request is refused
        key = jwk.JWK.from_json(public_key_json).get_op_key("verify")
        if not isinstance(key, rsa.RSAPublicKey):
            raise ClassCastException(f"{type(key).__name__} cannot be cast to java.security.interfaces.RSAPublicKey")
        if signature.split(".")[1] or jose4j_header(signature).get("alg") != "RS256":
            return False
        return jose4j_verifies(signature, body, key)


def reference_signature(body: bytes, private_key, kid: str | None = None) -> str:
    """jose4j as the reference client uses it: RS256, b64 false, no crit; a kid when configured."""
    if kid is None:
        return jose4j_detached_signature(body, private_key)

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "RS256", "b64": False, "kid": kid}, separators=(",", ":")).encode())
    signature = private_key.sign(header + b"." + body, padding.PKCS1v15(), hashes.SHA256())
    return (header + b".." + b64(signature)).decode()


@pytest.fixture
def registry(live_server, settings):
    settings.OCEN_ISSUER = f"{live_server.url}/auth"
    return live_server.url


def onboard(actor, name, role, key_name, **extra):
    return services.onboard_participant(
        org_name=name,
        role=role,
        base_url=f"https://{key_name}.example.in/ocen",
        public_key=public_pem(rsa_key(key_name)),
        actor=actor,
        **extra,
    )


BODY = b'{"metadata":{"version":"4.0.0","originatorParticipantId":"agent"},"loanApplications":[]}'


@pytest.mark.parametrize("with_kid", [False, True])
def test_the_reference_flow_works_as_it_is(registry, actor, with_kid):
    agent, lender = (
        onboard(actor, "Ref Agent", "LOAN_AGENT", "ref-agent"),
        onboard(actor, "Ref Lender", "LENDER", "ref-lender"),
    )
    caller_token = reference_token(registry, agent)
    kid = agent.participant.keys.get().kid if with_kid else None
    provider = ReferenceProvider(registry, lender)
    assert provider.accepts(caller_token, BODY, reference_signature(BODY, rsa_key("ref-agent"), kid))
    assert not provider.accepts(caller_token, BODY + b" ", reference_signature(BODY, rsa_key("ref-agent"), kid))
    record = provider.record(str(agent.participant.id))
    assert record["kcClientId"] == agent.participant.client_id and record["approvedBy"] == "OCEN Registry"
    assert set(record["participant"]) == set(ORGANISATION) and record["participant"]["participantLogo"] is None


def test_a_rotation_keeps_reference_verifiers_working(registry, actor):
    """Old key signs while the new one is published but not primary; publicKey switches at the scheduled
    time; the provider, refetching after the max-age it was given, accepts the new key from then on."""
    agent, lender = (
        onboard(actor, "Ref Agent", "LOAN_AGENT", "rot-agent"),
        onboard(actor, "Ref Lender", "LENDER", "rot-lender"),
    )
    caller_token = reference_token(registry, agent)
    provider = ReferenceProvider(registry, lender)
    switch = timezone.now() + dt.timedelta(seconds=3)
    services.add_participant_key(
        participant=agent.participant, public_key=public_pem(rsa_key("rot-agent-2")), actor=actor, primary_from=switch
    )

    assert provider.accepts(caller_token, BODY, reference_signature(BODY, rsa_key("rot-agent")))  # still the old key
    fetched_at, max_age = provider.max_ages[-1]
    assert fetched_at + max_age <= switch.timestamp() + 0.001  # its copy never outlives the switch
    assert not provider.accepts(caller_token, BODY, reference_signature(BODY, rsa_key("rot-agent-2")))

    while time.time() < switch.timestamp() + 0.1:
        time.sleep(0.2)
    # The participant switches to signing with the new key; the provider's copy has run out, so it refetches.
    assert provider.accepts(caller_token, BODY, reference_signature(BODY, rsa_key("rot-agent-2")))
    assert len(provider.max_ages) >= 2 and json.loads(provider.record(str(agent.participant.id))["publicKey"])[
        "kid"
    ] == (agent.participant.keys.order_by("-created_at").first().kid)
    # The old primary stays ACTIVE for verifiers that read the set, until it is retired.
    assert agent.participant.keys.filter(status="ACTIVE").count() == 2


def test_promote_participant_key_switches_now_and_the_record_says_so(registry, actor):
    from io import StringIO

    from django.core.management import call_command

    agent = onboard(actor, "Ref Agent", "LOAN_AGENT", "pro-agent")
    new = services.add_participant_key(
        participant=agent.participant, public_key=public_pem(rsa_key("pro-agent-2")), actor=actor
    )
    out = StringIO()
    call_command("promote_participant_key", str(agent.participant.id), "--", new.kid, stdout=out)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", json.loads(out.getvalue())["primaryFrom"])
    lender = onboard(actor, "Ref Lender", "LENDER", "pro-lender")
    record = ReferenceProvider(registry, lender).record(str(agent.participant.id))
    assert json.loads(record["publicKey"])["kid"] == new.kid


def test_a_suspended_participants_signed_requests_are_refused_by_reference_providers(registry, actor):
    agent, lender = (
        onboard(actor, "Ref Agent", "LOAN_AGENT", "sus-agent"),
        onboard(actor, "Ref Lender", "LENDER", "sus-lender"),
    )
    caller_token = reference_token(registry, agent)  # issued before the suspension: it still verifies offline
    signature = reference_signature(BODY, rsa_key("sus-agent"))
    services.suspend_participant(participant=agent.participant, actor=actor, reason="under investigation")
    assert not ReferenceProvider(registry, lender).accepts(caller_token, BODY, signature)
    services.reinstate_participant(participant=agent.participant, actor=actor)
    assert ReferenceProvider(registry, lender).accepts(caller_token, BODY, signature)


def test_role_spelling_follows_the_setting_and_input_accepts_both(registry, actor, settings):
    partner = onboard(actor, "Ref Data", "DERIVED_DATA_PROVIDER", "ddp")
    lender = onboard(actor, "Ref Lender", "LENDER", "ddp-lender")
    provider = ReferenceProvider(registry, lender)
    with pytest.raises(InvalidFormatException):  # the registry's own spelling: the reference DTO cannot read it
        provider.record(str(partner.participant.id))
    settings.OCEN_ROLE_SPELLING = "reference"
    partner.participant.save()  # a new change stamp, so the record is rendered afresh
    assert ReferenceProvider(registry, lender).record(str(partner.participant.id))["participantRole"] == (
        "DERIVED_DATA_PROVIDER"
    )


def test_ec_keys_are_refused_by_default_because_reference_verifiers_cast_to_rsa(registry, actor, settings):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="reads RSA keys only"):
        services.onboard_participant(
            org_name="EC Org",
            role="KYC_PARTNER",
            base_url="https://ec.example.in",
            public_key=public_pem(ec_key("ec-org")),
            actor=actor,
        )
    settings.OCEN_PARTICIPANT_KEY_TYPES = ["RSA", "EC"]  # what a registry that allows them gets:
    ec = services.onboard_participant(
        org_name="EC Org",
        role="KYC_PARTNER",
        base_url="https://ec.example.in",
        public_key=public_pem(ec_key("ec-org")),
        actor=actor,
    )
    lender = onboard(actor, "Ref Lender", "LENDER", "ec-lender")
    with pytest.raises(ClassCastException):
        ReferenceProvider(registry, lender).accepts(reference_token(registry, ec), BODY, "e30..c2ln")


def test_keycloak_paths_and_scope_openid_work(registry, actor):
    agent = onboard(actor, "KC Agent", "LOAN_AGENT", "kc-agent")
    for scope in ("openid", "", "openid ocen"):
        token = reference_token(registry, agent, path="/auth/protocol/openid-connect/token", scope=scope)
        assert pyjwt.decode(token, options={"verify_signature": False})["scope"] == "ocen"
    assert requests.get(f"{registry}/auth/protocol/openid-connect/certs", timeout=10).json() == (
        requests.get(f"{registry}/auth/certs", timeout=10).json()
    )
    form = {"client_id": agent.participant.client_id, "client_secret": agent.client_secret, "token": token}
    introspected = requests.post(f"{registry}/auth/protocol/openid-connect/token/introspect", data=form, timeout=10)
    assert introspected.json()["active"] is True
    assert requests.post(f"{registry}/auth/protocol/openid-connect/revoke", data=form, timeout=10).status_code == 200
    assert requests.post(f"{registry}/auth/introspect", data=form, timeout=10).json() == {"active": False}
    metadata = requests.get(f"{registry}/auth/.well-known/openid-configuration", timeout=10).json()
    assert metadata["token_endpoint"] == f"{registry}/auth/token"  # the aliases are only aliases
    assert metadata["keycloak_endpoint_aliases"]["token_endpoint"] == f"{registry}/auth/protocol/openid-connect/token"
    refused = requests.post(
        f"{registry}/auth/token",
        timeout=10,
        data={"client_id": agent.participant.client_id, "client_secret": agent.client_secret, "scope": "admin"},
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
