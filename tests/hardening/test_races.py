"""Races on real PostgreSQL with real concurrency: row locks and constraints keep the registry consistent."""

import threading

import pytest
import requests
from django.core.exceptions import ValidationError
from django.db import connections
from oauth2_provider.models import AccessToken, Application

from participants import services
from participants.models import Organisation, Participant, ParticipantKey
from tests.dot import dot_token_request
from tests.keys import public_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def race(count, work):
    """Run `work(i)` in `count` threads released together; return results and exceptions."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # collected for the assertions
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("iteration", range(3))
def test_concurrent_secret_rotations_leave_exactly_one_valid_secret(actor, lender, iteration):
    results = race(8, lambda i: services.rotate_client_secret(participant=lender.participant, actor=actor))
    assert all(isinstance(r, services.Credentials) for r in results), results
    statuses = [dot_token_request(lender.participant.client_id, r.client_secret)[0] for r in results]
    assert statuses.count(200) == 1 and statuses.count(401) == 7
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 401


@pytest.mark.parametrize("iteration", range(3))
def test_a_double_submitted_onboarding_creates_one_participant(actor, iteration):
    def onboard(i):
        return services.onboard_participant(
            org_name="Twice Submitted Bank",
            role="LENDER",
            base_url="https://twice.example.in",
            public_key=public_pem(rsa_key("twice")),
            actor=actor,
        )

    results = race(4, onboard)
    successes = [r for r in results if isinstance(r, services.Credentials)]
    refusals = [r for r in results if isinstance(r, ValidationError)]
    assert len(successes) == 1 and len(refusals) == 3, results
    assert Participant.objects.count() == Organisation.objects.count() == Application.objects.count() == 1


def test_concurrent_key_additions_keep_kids_unique(actor, lender):
    same_key = public_pem(rsa_key("same-new-key"))  # made before the race: every thread adds the same key
    results = race(
        6, lambda i: services.add_participant_key(participant=lender.participant, public_key=same_key, actor=actor)
    )
    assert sum(isinstance(r, ParticipantKey) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 5
    kids = list(ParticipantKey.objects.filter(participant=lender.participant).values_list("kid", flat=True))
    assert len(kids) == len(set(kids)) == 2


def test_tokens_requested_during_offboarding(live_server, actor, lender):
    """After the offboarding commits no token is issued, and every token issued before it is revoked."""
    url, stop, outcomes = f"{live_server.url}/auth/token", threading.Event(), []
    form = {"client_id": lender.participant.client_id, "client_secret": lender.client_secret}

    def hammer():
        with requests.Session() as session:
            while not stop.is_set():
                outcomes.append(session.post(url, data=form, timeout=10).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    while outcomes.count(200) < 10:
        pass
    services.offboard_participant(participant=lender.participant, actor=actor)
    after = len(outcomes)
    while len(outcomes) < after + 40:
        pass
    stop.set()
    for thread in threads:
        thread.join()
    connections.close_all()
    # Never a 500, whatever the interleaving; 429 is the client-ID lockout after repeated invalid_client.
    assert set(outcomes) <= {200, 401, 429}, outcomes
    assert 200 not in outcomes[after + 4 :]  # at most the requests already in flight at the commit
    assert AccessToken.objects.count() == 0  # every token issued, before or during, is revoked


def test_tokens_granted_while_a_suspension_commits_never_work_after_reinstatement(live_server, actor, lender):
    """Grants race a suspension on four threads; whatever token slipped in while it committed, none of the
    tokens issued before the reinstatement is honoured after it (suspend, rotate, reinstate: the runbook
    for a leaked secret)."""
    import time

    form = {"client_id": lender.participant.client_id, "client_secret": lender.client_secret}
    issued, stop = [], threading.Event()

    def grant(_):
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(
                    f"{live_server.url}/auth/token", data=form, timeout=10, headers={"X-Forwarded-For": "192.0.2.1"}
                )
                if response.status_code == 200:
                    issued.append(response.json()["access_token"])

    granting = [threading.Thread(target=grant, args=(n,)) for n in range(4)]
    for thread in granting:
        thread.start()
    time.sleep(0.5)
    services.suspend_participant(participant=lender.participant, actor=actor, reason="race")
    time.sleep(0.3)
    stop.set()
    for thread in granting:
        thread.join()
    services.reinstate_participant(participant=lender.participant, actor=actor)
    assert issued, "the grants must have run, or this proves nothing"
    url = f"{live_server.url}/service/participant-roles?size=1"
    honoured = [t for t in issued if requests.get(url, headers={"Authorization": f"Bearer {t}"}, timeout=10).ok]
    assert honoured == []
    introspected = requests.post(f"{live_server.url}/auth/introspect", data={**form, "token": issued[-1]}, timeout=10)
    assert introspected.json() == {"active": False}


def test_a_token_row_left_over_from_a_suspension_is_refused_after_reinstatement(client, actor, lender):
    """The same rule, deterministically: a token stored while the participant was suspended."""
    import datetime as dt
    import hashlib

    from django.utils import timezone

    from authapi import compiled, signing

    services.suspend_participant(participant=lender.participant, actor=actor, reason="leaked")
    raw = signing.sign({"sub": "x"}, signing.active_kid())
    AccessToken.objects.create(
        token="",
        token_checksum=hashlib.sha256(raw.encode()).hexdigest(),
        scope="ocen",
        application_id=lender.participant.application_id,
        expires=timezone.now() + dt.timedelta(hours=1),
    )
    services.reinstate_participant(participant=lender.participant, actor=actor)
    assert compiled.caller_for_token(raw, kid=signing.active_kid()) is None


@pytest.mark.parametrize("iteration", range(3))
def test_one_public_key_goes_to_one_organisation_even_when_two_onboard_it_at_once(actor, iteration):
    contested = public_pem(rsa_key("contested"))  # made before the threads: the key cache is not thread-safe

    def onboard(i):
        return services.onboard_participant(
            org_name=f"Race Org {i}",
            role="LENDER",
            base_url=f"https://race{i}.example.in",
            public_key=contested,
            actor=actor,
        )

    results = race(4, onboard)
    assert sum(isinstance(r, services.Credentials) for r in results) == 1, results
    assert all(isinstance(r, (services.Credentials, ValidationError)) for r in results), results
    owners = ParticipantKey.objects.values_list("participant__organisation", flat=True).distinct()
    assert owners.count() == 1
