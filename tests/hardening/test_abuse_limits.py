"""Abuse limits: failed client authentications throttled per source address (and per source and client
ID) on every endpoint that authenticates clients — past a limit a failure is a 429, never the right
credentials; a per-participant rate on /service/."""

import time

import pytest

from participants import services
from participants.models import AuditEvent
from tests.authapi.conftest import basic, bearer, get_token, post_form

THROTTLED = {
    "error": "temporarily_unavailable",
    "error_description": "Too many failed client authentications from this address; retry later.",
}


def attempt(client, client_id, secret, source="192.0.2.1", path="/auth/token", form=None, **meta):
    form = {"client_id": client_id, "client_secret": secret, **(form or {})}
    return post_form(client, path, form, REMOTE_ADDR=source, **meta)


def test_failures_past_the_limit_for_one_client_are_answered_429_from_that_source(client, lender, loan_agent, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 3
    client_id = lender.participant.client_id
    assert [attempt(client, client_id, "wrong").status_code for _ in range(3)] == [401, 401, 429]
    throttled = attempt(client, client_id, "wrong again")
    assert throttled.status_code == 429 and throttled.json() == THROTTLED and int(throttled["Retry-After"]) > 0
    via_basic = post_form(
        client, "/auth/token", {}, HTTP_AUTHORIZATION=basic(client_id, "wrong"), REMOTE_ADDR="192.0.2.1"
    )
    assert via_basic.status_code == 429
    # Other clients from that source, and that client from other sources, fail as usual.
    assert attempt(client, loan_agent.participant.client_id, "wrong").status_code == 401
    assert attempt(client, client_id, "wrong", source="198.51.100.1").status_code == 401


def test_the_right_secret_is_never_refused_by_the_throttle(client, lender, settings):
    """Client IDs are public and secrets unguessable: a throttle that refused the right secret would only
    let someone shut a participant out (a stale sibling service behind the same NAT address, say)."""
    settings.OCEN_TOKEN_FAILURE_LIMIT, settings.OCEN_TOKEN_ADDRESS_FAILURE_LIMIT = 2, 3
    client_id = lender.participant.client_id
    for _ in range(5):
        attempt(client, client_id, "stale")
    assert attempt(client, client_id, "stale").status_code == 429
    assert attempt(client, client_id, lender.client_secret).status_code == 200
    for path in ("/auth/introspect", "/auth/revoke"):
        assert attempt(client, client_id, lender.client_secret, path=path, form={"token": "t"}).status_code == 200


def test_a_source_failing_for_many_client_ids_is_throttled_whatever_it_names(client, lender, settings):
    settings.OCEN_TOKEN_ADDRESS_FAILURE_LIMIT = 5
    for n in range(4):
        assert attempt(client, f"no-such-client-{n}", "x").status_code == 401
    assert attempt(client, "no-such-client-4", "x").status_code == 429
    assert attempt(client, lender.participant.client_id, "wrong").status_code == 429
    assert attempt(client, lender.participant.client_id, "wrong", source="198.51.100.1").status_code == 401


def test_ipv6_sources_are_counted_by_their_64_bit_prefix(client, lender, settings):
    settings.OCEN_TOKEN_ADDRESS_FAILURE_LIMIT = 3
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::ffff"):
        assert attempt(client, "no-such-client", "x", source=host).status_code == 401
    assert attempt(client, "no-such-client", "x", source="2001:db8:1:2:abcd::9").status_code == 429
    assert attempt(client, "no-such-client", "x", source="2001:db8:1:3::1").status_code == 401


def test_the_throttle_ends_and_a_success_resets_the_count(client, lender, settings, time_machine):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 3
    time_machine.move_to(time.time(), tick=False)  # the counters live in this process's cache, on its clock
    client_id = lender.participant.client_id
    for _ in range(2):
        attempt(client, client_id, "wrong")
    assert attempt(client, client_id, lender.client_secret).status_code == 200  # resets the count
    for _ in range(2):
        assert attempt(client, client_id, "wrong").status_code == 401  # 2 < 3 again
    assert attempt(client, client_id, "wrong").status_code == 429
    time_machine.shift(settings.OCEN_TOKEN_LOCKOUT_SECONDS)
    assert attempt(client, client_id, "wrong").status_code == 401


@pytest.mark.parametrize("path", ["/auth/introspect", "/auth/revoke"])
def test_introspection_and_revocation_count_failures_too(client, lender, settings, path):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 2
    client_id = lender.participant.client_id
    assert attempt(client, client_id, "wrong", path=path, form={"token": "t"}).status_code == 401
    assert attempt(client, client_id, "wrong", path=path, form={"token": "t"}).status_code == 429
    assert attempt(client, client_id, "wrong", path="/auth/token").status_code == 429  # one budget


def test_failures_for_one_client_id_from_everywhere_are_a_signal_not_a_lock(client, lender, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT = 3
    client_id = lender.participant.client_id
    for n in range(4):  # four sources, one failure each: nobody is throttled
        assert attempt(client, client_id, "wrong", source=f"203.0.113.{n}").status_code == 401
    assert attempt(client, client_id, lender.client_secret, source="203.0.113.9").status_code == 200
    [signal] = AuditEvent.objects.filter(action="client.authentication_failures")
    assert signal.participant == lender.participant and signal.details["failures"] == 3
    assert signal.details["lastSource"] == "203.0.113.2" and signal.remote_addr == "203.0.113.2"


def test_the_address_is_the_one_the_trusted_proxy_reports(client, lender, settings):
    settings.OCEN_TOKEN_FAILURE_LIMIT, settings.OCEN_TRUSTED_PROXY_COUNT = 2, 1
    client_id = lender.participant.client_id

    def via_proxy(forwarded):
        return attempt(client, client_id, "wrong", source="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    # The client prepends a forged entry: the proxy's own entry (the rightmost) is the one believed.
    assert [via_proxy("198.51.100.50, 203.0.113.7").status_code for _ in range(2)] == [401, 429]
    assert via_proxy("203.0.113.7").status_code == 429
    assert via_proxy("203.0.113.7, 198.51.100.50").status_code == 401


def test_registry_reads_are_rate_limited_per_participant(client, actor, lender, loan_agent, settings, time_machine):
    settings.OCEN_SERVICE_RATE_PER_MINUTE = 3
    agent_token, lender_token = get_token(client, loan_agent), get_token(client, lender)
    url = f"/service/participant-roles/{lender.participant.id}"
    time_machine.move_to(time.time(), tick=False)  # the clock stands still: every read falls in one fixed window
    assert [client.get(url, **bearer(agent_token)).status_code for _ in range(3)] == [200, 200, 200]
    throttled = client.get(url, **bearer(agent_token))
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    body = throttled.json()
    assert body["errorCode"] == "TOO_MANY_REQUESTS" and set(body) == {"errorCode", "message", "timestamp", "traceId"}
    assert client.get(url, **bearer(lender_token)).status_code == 200  # another participant's budget
    services.suspend_participant(participant=loan_agent.participant, actor=actor)
    assert client.get(url, **bearer(agent_token)).status_code == 401  # authentication comes first
