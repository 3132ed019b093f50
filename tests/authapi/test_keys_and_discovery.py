"""Registry signing keys, JWKS and discovery (contract §2, §4.3)."""

import json

import pytest
from django.core.management import CommandError, call_command
from jwcrypto import jwk, jwt

from authapi.models import SigningKey, SigningKeyStatus
from authapi.signing import create_signing_key
from participants.models import AuditEvent
from participants.wire import rfc3339
from tests.authapi.conftest import get_token


def kid_of(token: str) -> str:
    return jwt.JWT(jwt=token).token.jose_header["kid"]


def verify_with_jwks(token: str, jwks: dict) -> dict:
    keyset = jwk.JWKSet.from_json(json.dumps(jwks))
    return json.loads(jwt.JWT(jwt=token, key=keyset, algs=["RS256"]).claims)


def test_jwks_publishes_only_public_keys(client, lender_token):
    for url in ("/auth/certs", "/.well-known/jwks.json"):
        response = client.get(url)
        assert response.status_code == 200 and response["Cache-Control"] == "public, max-age=300"
        keys = response.json()["keys"]
        assert len(keys) == 1
        assert set(keys[0]) == {"kty", "n", "e", "kid", "use", "alg"}
        assert keys[0]["kid"] == kid_of(lender_token)
        verify_with_jwks(lender_token, response.json())


def test_private_key_is_encrypted_at_rest(lender_token):
    stored = SigningKey.objects.get()
    assert "PRIVATE KEY" not in stored.private_key_encrypted and stored.private_key_encrypted.startswith("gAAAAA")
    assert "d" not in stored.public_jwk


def test_rotation_keeps_old_tokens_verifiable_and_signs_new_ones_with_the_new_key(client, lender, lender_token):
    old_kid = kid_of(lender_token)
    call_command("rotate_signing_key", "--now")
    jwks = client.get("/auth/certs").json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, SigningKey.objects.get(status=SigningKeyStatus.ACTIVE).kid}
    assert verify_with_jwks(lender_token, jwks)["participantId"] == str(lender.participant.id)
    new_token = get_token(client, lender)
    assert kid_of(new_token) != old_kid and kid_of(new_token) == SigningKey.objects.get(status="ACTIVE").kid
    verify_with_jwks(new_token, jwks)


def test_a_retired_key_leaves_the_jwks_once_its_tokens_have_expired(client, lender_token, settings):
    from django.utils import timezone

    old_kid = kid_of(lender_token)
    call_command("rotate_signing_key", "--now")
    retired = SigningKey.objects.get(kid=old_kid)
    assert retired.status == SigningKeyStatus.RETIRED
    assert (retired.verify_until - retired.retired_at).total_seconds() == settings.OCEN_ACCESS_TOKEN_TTL + 60
    SigningKey.objects.filter(pk=retired.pk).update(verify_until=timezone.now())
    assert old_kid not in {k["kid"] for k in client.get("/auth/certs").json()["keys"]}


def test_create_signing_key_refuses_a_second_active_key(db):
    create_signing_key()
    with pytest.raises(CommandError, match="rotate_signing_key"):
        call_command("create_signing_key")
    assert SigningKey.objects.count() == 1


@pytest.mark.parametrize(
    "url", ["/auth/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/auth"]
)
def test_discovery_document(client, db, url):
    response = client.get(url)
    assert response.status_code == 200 and response["Cache-Control"] == "public, max-age=300"
    body = response.json()
    assert body["issuer"] == "http://localhost:8000/auth"
    assert body["token_endpoint"] == "http://localhost:8000/auth/token"
    assert body["jwks_uri"] == "http://localhost:8000/auth/certs"
    assert body["introspection_endpoint"] == "http://localhost:8000/auth/introspect"
    assert body["revocation_endpoint"] == "http://localhost:8000/auth/revoke"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    }
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS256"]  # RSA keys only by default
    assert body["id_token_signing_alg_values_supported"] == ["RS256"]


def test_signing_keys_are_listed_in_the_admin_without_private_material(client, lender_token, django_user_model):
    from django.urls import reverse

    client.force_login(django_user_model.objects.create(username="root", is_staff=True, is_superuser=True))
    key = SigningKey.objects.get()
    for url in (
        reverse("admin:authapi_signingkey_changelist"),
        reverse("admin:authapi_signingkey_change", args=[key.pk]),
    ):
        page = client.get(url).content.decode()
        assert key.kid in page
        assert key.private_key_encrypted[:40] not in page and "PRIVATE" not in page
    assert client.post(reverse("admin:authapi_signingkey_delete", args=[key.pk]), {"post": "yes"}).status_code == 403


def test_revoking_the_active_signing_key_replaces_it_and_refuses_its_tokens(client, lender, lender_token):
    old_kid = kid_of(lender_token)
    output = json.loads(call_command_output("revoke_signing_key", "--reason", "found on a laptop", "--", old_kid))
    revoked, active = SigningKey.objects.get(kid=old_kid), SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    assert output == {"revokedKid": old_kid, "revokedAt": rfc3339(revoked.revoked_at), "activeKid": active.kid}
    assert revoked.status == SigningKeyStatus.REVOKED and revoked.revocation_reason == "found on a laptop"
    assert {k["kid"] for k in client.get("/auth/certs").json()["keys"]} == {active.kid}
    details = client.get(
        f"/service/participant-roles/{lender.participant.id}", HTTP_AUTHORIZATION=f"Bearer {lender_token}"
    )
    assert details.status_code == 401
    assert kid_of(get_token(client, lender)) == active.kid
    event = AuditEvent.objects.get(action="signing_key.revoked")
    assert event.details == {"kid": old_kid, "reason": "found on a laptop", "wasActive": True}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reason", "x", "--", "no-such-kid"], "kid: No signing key 'no-such-kid'."),
        (["--reason", " ", "--", "KID"], "reason:"),
    ],
)
def test_revoke_signing_key_refuses_with_one_line(lender_token, args, message):
    args = [kid_of(lender_token) if a == "KID" else a for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("revoke_signing_key", *args)
    assert SigningKey.objects.get().status == SigningKeyStatus.ACTIVE


def test_a_signing_key_is_revoked_in_the_admin_with_a_reason(client, lender_token, django_user_model):
    from django.urls import reverse

    client.force_login(django_user_model.objects.create(username="root", is_staff=True, is_superuser=True))
    key = SigningKey.objects.get()
    url = reverse("admin:authapi_signingkey_changelist")
    form = {"action": "revoke", "_selected_action": [key.pk]}
    confirm = client.post(url, form)
    assert confirm.status_code == 200 and "leaves the JWKS at once" in confirm.content.decode()
    done = client.post(url, {**form, "confirmed": "yes", "reason": "compromised"})
    assert done.status_code == 302 and SigningKey.objects.get(pk=key.pk).status == SigningKeyStatus.REVOKED
    assert AuditEvent.objects.get(action="signing_key.revoked").actor == "root"


def call_command_output(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
