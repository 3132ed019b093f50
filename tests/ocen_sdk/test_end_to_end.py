"""The whole OCEN flow over real HTTP (contract §1, §6): a live registry, a lender service and a loan
agent built on ocen_sdk; a signed request and a signed response; key rotation; offboarding."""

import json
import threading

import pytest
import requests
from django.utils import timezone

from ocen_sdk import RegistryClient, RegistryKeys, TokenClient, VerificationError, Verifier, sign
from participants import services
from tests.keys import FIXTURES, public_pem, rsa_key
from tests.ocen_sdk.conftest import Clock, onboard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Participant:
    """One participant's side of the toolkit: its token, its registry view, its signing key."""

    def __init__(self, registry, credentials, kid, key_name, clock):
        self.id = str(credentials.participant.id)
        self.tokens = TokenClient(
            f"{registry['issuer']}/token", credentials.participant.client_id, credentials.client_secret
        )
        keys = RegistryKeys(registry["issuer"], min_refresh_interval=0, clock=clock)
        self.registry = RegistryClient(registry["service"], self.tokens, keys=keys, min_refresh_interval=0, clock=clock)
        self.verifier = Verifier(registry["issuer"], self.registry)
        self.signing = {"key": rsa_key(key_name), "kid": kid}

    def close(self) -> None:
        self.registry.close()

    def sign(self, body: bytes) -> str:
        return sign(body, self.signing["key"], self.signing["kid"])


def lender_service(lender: Participant):
    """A few lines of WSGI: verify the caller as a provider must, answer with a signed acknowledgement."""
    lock = threading.Lock()

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
        with lock:
            try:
                caller = lender.verifier.verify_request(headers, body)
            except VerificationError as exc:
                start_response("401 Unauthorized", [("Content-Type", "application/json")])
                return [json.dumps({"error": exc.reason}).encode()]
            request_id = json.loads(body)["metadata"]["requestId"]
            detail = f"received from {caller['participant']['participantName']}"
            answer = json.dumps(
                {
                    "metadata": {"originatorParticipantId": lender.id, "requestId": request_id},
                    "response": {"status": "SUCCESS", "responseDetail": detail},
                }
            ).encode()
            signature = lender.sign(answer)
        start_response("200 OK", [("Content-Type", "application/json"), ("x-jws-signature", signature)])
        return [answer]

    return app


def create_loan_application(agent: Participant) -> bytes:
    document = json.loads((FIXTURES / "create_loan_application_request.json").read_text())
    document["metadata"]["originatorParticipantId"] = agent.id
    return json.dumps(document, indent=1).encode()


def call_lender(agent: Participant, lender_url: str, lender_id: str) -> requests.Response:
    body = create_loan_application(agent)
    response = requests.post(
        f"{lender_url}/loanApplications/createLoanApplicationsRequest",
        data=body,
        headers={
            "Authorization": f"Bearer {agent.tokens.token()}",
            "x-jws-signature": agent.sign(body),
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    if response.status_code == 200:
        agent.registry.verify_signature(lender_id, response.content, response.headers["x-jws-signature"])
    return response


def test_signed_exchange_rotation_and_offboarding(registry, actor, serve, settings):
    lender_credentials, lender_kid = onboard(actor, "Bharat Lending Bank", "LENDER", "e2e-lender")
    agent_credentials, agent_kid = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "e2e-agent")
    clock = Clock()  # the toolkit's caches age only when the test says
    lender = Participant(registry, lender_credentials, lender_kid, "e2e-lender", clock)
    agent = Participant(registry, agent_credentials, agent_kid, "e2e-agent", clock)
    try:
        exchange(
            registry, actor, settings, serve, lender, agent, lender_credentials, agent_credentials, lender_kid, clock
        )
    finally:
        lender.close()
        agent.close()


def exchange(registry, actor, settings, serve, lender, agent, lender_credentials, agent_credentials, lender_kid, clock):
    lender_url = serve(lender_service(lender))

    # 1. A signed createLoanApplication request, and the lender's signed answer, both verified.
    response = call_lender(agent, lender_url, lender.id)
    assert response.status_code == 200, response.text
    assert response.json()["response"]["responseDetail"] == "received from Udyam Loan Agent"

    # 2. The lender rotates: new key registered, made primary and used, old key retired. Traffic keeps working.
    services.add_participant_key(
        participant=lender_credentials.participant,
        public_key=public_pem(rsa_key("e2e-lender-2")),
        actor=actor,
        primary_from=timezone.now(),
    )
    new_key = lender_credentials.participant.keys.order_by("-created_at").first()
    lender.signing = {"key": rsa_key("e2e-lender-2"), "kid": new_key.kid}
    services.retire_key(key=lender_credentials.participant.keys.get(kid=lender_kid), actor=actor)
    response = call_lender(agent, lender_url, lender.id)
    assert response.status_code == 200, response.text

    # 3. A forged request (body changed after signing) is refused by the lender's verifier.
    body = create_loan_application(agent)
    headers = {"Authorization": f"Bearer {agent.tokens.token()}", "x-jws-signature": agent.sign(body)}
    forged = requests.post(f"{lender_url}/x", data=body.replace(b"CREATED", b"APPROVED"), headers=headers, timeout=10)
    assert forged.status_code == 401 and forged.json() == {"error": "signature_mismatch"}

    # 4. The loan agent is offboarded: within the registry cache's max-age the lender refuses it.
    services.offboard_participant(participant=agent_credentials.participant, actor=actor)
    clock.advance(settings.OCEN_REGISTRY_MAX_AGE)
    refused = call_lender(agent, lender_url, lender.id)
    assert refused.status_code == 401 and refused.json() == {"error": "participant_not_active"}
