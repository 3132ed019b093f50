"""Secrets and private keys never reach logs or audit details (contract §7), with the production logging."""

import json
import logging

import pytest
from django.urls import reverse

from participants import services
from participants.models import AuditEvent
from tests.authapi.conftest import get_token, post_form
from tests.keys import private_pem, public_pem, rsa_key


@pytest.fixture
def everything_logged(caplog):
    caplog.set_level(logging.DEBUG)  # the root; the settings keep oauthlib and django-oauth-toolkit at WARNING
    return caplog


def test_no_secret_token_or_private_key_in_logs_or_audit(client, actor, everything_logged, registry_admin):
    onboarded = services.onboard_participant(
        org_name="Hygiene Bank",
        role="LENDER",
        base_url="https://hygiene.example.in",
        public_key=public_pem(rsa_key("hygiene")),
        actor=actor,
    )
    rotated = services.rotate_client_secret(participant=onboarded.participant, actor=actor)
    token = get_token(client, rotated)
    post_form(client, "/auth/token", {"client_id": onboarded.participant.client_id, "client_secret": "wrong-secret"})
    with pytest.raises(Exception):  # noqa: B017 — any refusal; what matters is what got logged
        services.add_participant_key(
            participant=onboarded.participant, public_key=private_pem(rsa_key("x")), actor=actor
        )
    client.post(reverse("admin:login"), {"username": "asha", "password": "not-the-password"})

    logged = "\n".join(record.getMessage() + repr(record.args) for record in everything_logged.records)
    audited = json.dumps(list(AuditEvent.objects.values("details", "actor", "action")))
    private = private_pem(rsa_key("x")).decode()
    for secret in (
        onboarded.client_secret,
        rotated.client_secret,
        token,
        "wrong-secret",
        "not-the-password",
        private.splitlines()[1],
    ):
        assert secret not in logged
        assert secret not in audited
    assert everything_logged.records, "the capture saw nothing: the test would pass for the wrong reason"
