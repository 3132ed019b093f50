"""Abuse limits (contract §4.1): token-endpoint lockout per client ID, per-participant rate on /service/."""

import time

from participants import services
from tests.authapi.conftest import basic, bearer, get_token, post_form

LOCKED = {
    "error": "temporarily_unavailable",
    "error_description": "Too many failed attempts for this client; retry later.",
}


def attempt(client, client_id, secret):
    return post_form(client, "/auth/token", {"client_id": client_id, "client_secret": secret})


def test_repeated_failures_lock_the_client_id_out(client, lender, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 3
    client_id = lender.participant.client_id
    assert [attempt(client, client_id, "wrong").status_code for _ in range(3)] == [401, 401, 401]
    locked = attempt(client, client_id, lender.client_secret)  # even the right secret, while locked
    assert locked.status_code == 429 and locked.json() == LOCKED and int(locked["Retry-After"]) > 0
    via_basic = post_form(client, "/auth/token", {}, HTTP_AUTHORIZATION=basic(client_id, lender.client_secret))
    assert via_basic.status_code == 429


def test_unknown_client_ids_get_the_same_lockout(client, db, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 2
    for _ in range(2):
        attempt(client, "no-such-client", "x")
    response = attempt(client, "no-such-client", "x")
    assert response.status_code == 429 and response.json() == LOCKED


def test_the_lockout_ends_and_success_resets_the_count(client, lender, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT, settings.OCEN_TOKEN_LOCKOUT_SECONDS = 3, 1
    client_id = lender.participant.client_id
    for _ in range(2):
        attempt(client, client_id, "wrong")
    assert attempt(client, client_id, lender.client_secret).status_code == 200  # resets the count
    for _ in range(2):
        attempt(client, client_id, "wrong")
    assert attempt(client, client_id, lender.client_secret).status_code == 200  # not locked: 2 < 3
    for _ in range(3):
        attempt(client, client_id, "wrong")
    assert attempt(client, client_id, lender.client_secret).status_code == 429
    time.sleep(1.2)
    assert attempt(client, client_id, lender.client_secret).status_code == 200


def test_one_client_locked_out_does_not_affect_another(client, lender, loan_agent, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 2
    for _ in range(2):
        attempt(client, lender.participant.client_id, "wrong")
    assert attempt(client, loan_agent.participant.client_id, loan_agent.client_secret).status_code == 200


def test_registry_reads_are_rate_limited_per_participant(client, actor, lender, loan_agent, settings):
    settings.OCEN_SERVICE_RATE_PER_MINUTE = 3
    agent_token, lender_token = get_token(client, loan_agent), get_token(client, lender)
    url = f"/service/participant-roles/{lender.participant.id}"
    assert [client.get(url, **bearer(agent_token)).status_code for _ in range(3)] == [200, 200, 200]
    throttled = client.get(url, **bearer(agent_token))
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    body = throttled.json()
    assert body["errorCode"] == "TOO_MANY_REQUESTS" and set(body) == {"errorCode", "message", "timestamp", "traceId"}
    assert client.get(url, **bearer(lender_token)).status_code == 200  # another participant's budget
    services.suspend_participant(participant=loan_agent.participant, actor=actor)
    assert client.get(url, **bearer(agent_token)).status_code == 401  # authentication comes first
