"""Incremental sync of the participant list over real HTTP: a cursor walk sees every participant changed
after it started, even when rows change during the walk (contract §5.2); page numbers can skip one."""

import datetime as dt

import pytest
import requests
from django.utils import timezone

from participants import services
from tests.keys import public_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def seven(actor):
    """Seven participants, onboarded one after the other (so in this (updatedOn, id) order)."""
    return [
        services.onboard_participant(
            org_name=f"Sync Org {n}",
            role="KYC_PARTNER",
            base_url=f"https://s{n}.example.in",
            public_key=public_pem(rsa_key(f"sync{n}")),
            actor=actor,
        )
        for n in range(7)
    ]


@pytest.fixture
def read(live_server, seven):
    caller = seven[6]
    form = {"client_id": caller.participant.client_id, "client_secret": caller.client_secret}
    token = requests.post(f"{live_server.url}/auth/token", data=form, timeout=10).json()["access_token"]

    def get(**params):
        response = requests.get(
            f"{live_server.url}/service/participant-roles",
            params=params,
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    return get


def test_a_cursor_walk_sees_a_participant_that_changes_between_pages(read, seven, actor):
    first = read(size=3)
    assert len(first["content"]) == 3 and first["nextCursor"] and first["totalElements"] == 7
    moved = seven[1].participant  # on page 1: its change sends it to the end of the order
    services.suspend_participant(participant=moved, actor=actor, reason="between pages")
    seen, cursor = [item["id"] for item in first["content"]], first["nextCursor"]
    while cursor:
        page = read(cursor=cursor, size=3)
        seen += [item["id"] for item in page["content"]]
        cursor = page["nextCursor"]
    assert set(seen) == {str(c.participant.id) for c in seven}
    assert seen[-1] == str(moved.id)  # seen again, with its change


def test_page_numbers_can_skip_a_row_that_changes_during_the_walk(read, seven, actor):
    """Why the cursor: the same change between page 0 and page 1 makes a page walk miss a participant."""
    first = read(size=3, page=0)
    services.suspend_participant(participant=seven[1].participant, actor=actor, reason="between pages")
    rest = [read(size=3, page=n) for n in (1, 2)]
    seen = {i["id"] for page in (first, *rest) for i in page["content"]}
    assert len(seen) == 6  # one participant was never returned


def test_a_cursor_keeps_its_walks_filters_and_its_last_page_says_so(read, seven, actor):
    since = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    services.onboard_participant(
        org_name="Not KYC",
        role="LENDER",
        base_url="https://lender.example.in",
        public_key=public_pem(rsa_key("sync-lender")),
        actor=actor,
    )
    page = read(size=2, role="KYC_PARTNER", updatedSince=since)
    pages = [page]
    while page["nextCursor"]:
        page = read(cursor=page["nextCursor"])  # the filters travel in the cursor; the size is the default
        pages.append(page)
    assert [len(p["content"]) for p in pages] == [2, 7 - 2]
    assert {i["participantRole"] for p in pages for i in p["content"]} == {"KYC_PARTNER"}
    assert [p["number"] for p in pages] == [0, 1] and pages[-1]["nextCursor"] is None


def cursor_of(document: str) -> str:
    import base64

    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJ4IjogMX0"},
        {"cursor": "CURSOR", "role": "LENDER"},
        {"cursor": "CURSOR", "page": "2"},
        {"cursor": cursor_of('{"after":null,"role":null,"status":null,"since":null,"page":1e999}')},
        {
            "cursor": cursor_of(  # a time without its zone
                '{"after":["2026-01-01T00:00:00","00000000-0000-0000-0000-000000000000"],'
                '"role":null,"status":null,"since":null,"page":1}'
            )
        },
    ],
)
def test_a_bad_cursor_is_a_400(live_server, read, seven, params):
    cursor = read(size=1)["nextCursor"]
    caller = seven[6]
    form = {"client_id": caller.participant.client_id, "client_secret": caller.client_secret}
    token = requests.post(f"{live_server.url}/auth/token", data=form, timeout=10).json()["access_token"]
    params = {name: cursor if value == "CURSOR" else value for name, value in params.items()}
    response = requests.get(
        f"{live_server.url}/service/participant-roles",
        params=params,
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400 and response.json()["errorCode"] == "BAD_REQUEST"
    assert "cursor" in response.json()["message"]


def test_a_walk_never_passes_a_change_that_is_still_committing(read, seven, actor):
    """A change is stamped before it commits: here X's new key waits for X's row lock (another session
    holds it) while Y changes and commits; a walker that passed X's stamp would never see the key."""
    import threading
    import time

    import psycopg
    from django.db import connection

    x, y = seven[0].participant, seven[1].participant
    settings_dict = connection.settings_dict
    blocker = psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
    )
    blocker.execute("SELECT 1 FROM participants_participant WHERE id = %s FOR UPDATE", [x.id])

    def add_key():
        try:
            services.add_participant_key(participant=x, public_key=public_pem(rsa_key("sync-new")), actor=actor)
        finally:
            connection.close()

    adding = threading.Thread(target=add_key)
    adding.start()
    time.sleep(0.5)  # the key's stamp is taken; its transaction waits for the lock
    services.suspend_participant(participant=y, actor=actor, reason="committed first")
    records, page = {}, read(size=3)
    released = False
    while True:
        records.update({item["id"]: item for item in page["content"]})
        # The slow operation ends (X's key commits) once the walker has gone as far as it can meanwhile.
        if not released and (str(y.id) in records or not page["content"] or page["nextCursor"] is None):
            blocker.commit()
            adding.join(timeout=10)
            released = True
        if page["nextCursor"] is None:
            break
        if not page["content"]:
            time.sleep(0.2)  # changes still committing: come back shortly
        page = read(cursor=page["nextCursor"], size=3)
    blocker.close()
    assert len(records[str(x.id)]["publicKeys"]["keys"]) == 2 and records[str(y.id)]["status"] == "SUSPENDED"
