"""Client-secret hashing: the production hasher, as configured for django-oauth-toolkit."""

from django.contrib.auth.hashers import check_password, identify_hasher
from oauth2_provider.models import Application
from oauth2_provider.settings import oauth2_settings

from participants import services
from participants.hashers import ClientSecretHasher
from tests.dot import dot_token_request


def test_django_oauth_toolkit_is_configured_with_the_fast_hasher():
    assert ClientSecretHasher.algorithm == oauth2_settings.CLIENT_SECRET_HASHER


def test_stored_value_is_a_salted_hash_not_the_secret(lender):
    stored = Application.objects.get().client_secret
    assert lender.client_secret not in stored
    assert isinstance(identify_hasher(stored), ClientSecretHasher)
    _algorithm, salt, digest = stored.split("$")
    assert len(salt) >= 22 and len(digest) == 64


def test_verification_accepts_the_secret_and_nothing_else(lender):
    stored = Application.objects.get().client_secret
    assert check_password(lender.client_secret, stored)
    assert not check_password(lender.client_secret + "x", stored)
    assert not check_password(lender.client_secret[:-1], stored)


def test_equal_secrets_get_different_hashes():
    hasher = ClientSecretHasher()
    assert hasher.encode("same-secret", hasher.salt()) != hasher.encode("same-secret", hasher.salt())


def test_django_oauth_toolkit_authenticates_with_the_hashed_secret(lender):
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 200
    status, body = dot_token_request(lender.participant.client_id, "wrong-" + lender.client_secret)
    assert status == 401 and body["error"] == "invalid_client"


def test_rotated_secret_works_and_the_old_one_does_not(actor, lender):
    rotated = services.rotate_client_secret(participant=lender.participant, actor=actor)
    assert dot_token_request(lender.participant.client_id, rotated.client_secret)[0] == 200
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 401
