"""The change feed (GET /service/changes) and the snapshot (GET /service/snapshot): written with each change, in
commit order, each entry carrying the record as its lookup answers now, signed, visible only where the lookups are."""

import datetime as dt
import gzip
import io
import json
import random
import threading
import time

import pytest
import requests
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from authapi import signing
from participants import services
from participants.models import Change, ChangeKind, Participant
from tests.authapi.conftest import bearer, get_token
from tests.authapi.test_signed_responses import verify_registry_signature
from tests.keys import public_pem, rsa_key
from tests.servers import access_token


def feed(client, token, after=0, limit=100):
    response = client.get(f"/service/changes?after={after}&limit={limit}", **bearer(token))
    assert response.status_code == 200, response.content
    return response.json()


def details(client, token, participant):
    return client.get(f"/service/participant-roles/{participant.pk}", **bearer(token)).json()


def test_a_suspension_is_an_entry_carrying_the_record_as_get_participant_details_answers_it(
    client, actor, agent_token, lender
):
    start = Change.objects.newest()
    services.suspend_participant(participant=lender.participant, actor=actor, reason="regulator's order")
    page = feed(client, agent_token, after=start)

    assert [(c["kind"], c["id"]) for c in page["changes"]] == [("participant", str(lender.participant.pk))]
    assert page["changes"][0]["record"] == details(client, agent_token, lender.participant)
    assert page["changes"][0]["record"]["status"] == "SUSPENDED"
    assert page["nextAfter"] == page["changes"][0]["seq"] and page["hasMore"] is False
    assert feed(client, agent_token, after=page["nextAfter"])["changes"] == []


def test_a_change_rolled_back_leaves_no_entry(actor, lender):
    before = Change.objects.newest()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.suspend_participant(participant=lender.participant, actor=actor, reason="by mistake")
        raise RuntimeError("the operator's transaction fails after the suspension")
    assert Change.objects.newest() == before


def test_credentials_and_failure_signals_are_not_changes_others_see(actor, lender):
    before = Change.objects.newest()
    services.rotate_client_secret(participant=lender.participant, actor=actor)
    assert Change.objects.newest() == before


def test_every_kind_of_change_names_what_it_changed(client, actor, agent_token, lender, loan_agent, kyc_partner):
    start = Change.objects.newest()
    product = services.create_product(lender=lender.participant, actor=actor, name="Working Capital 90")
    network = services.create_network(product=product, loan_agent=loan_agent.participant, name="MSME", actor=actor)
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    key = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("lender-2")), actor=actor
    )
    services.revoke_key(key=key, actor=actor, reason="compromised")
    services.offboard_participant(participant=kyc_partner.participant, actor=actor, reason="licence cancelled")

    named = {(c["kind"], c["id"]) for c in feed(client, agent_token, after=start)["changes"]}
    assert {
        ("product", str(product.pk)),
        ("network", str(network.pk)),
        ("participant", str(lender.participant.pk)),
        ("participant", str(kyc_partner.participant.pk)),
    } <= named
    entries = feed(client, agent_token, after=start)["changes"]
    last_network = [c for c in entries if c["kind"] == "network"][-1]["record"]
    assert str(kyc_partner.participant.pk) not in {m["id"] for m in last_network["members"]}  # offboarded: unlisted


def test_pages_follow_on_with_next_after(client, actor, agent_token, lender):
    start = Change.objects.newest()
    for _ in range(3):
        services.suspend_participant(participant=lender.participant, actor=actor, reason="check")
        services.reinstate_participant(participant=lender.participant, actor=actor)
    first = feed(client, agent_token, after=start, limit=4)
    second = feed(client, agent_token, after=first["nextAfter"], limit=4)
    assert first["hasMore"] is True and second["hasMore"] is False
    assert len(first["changes"]) == 4 and len(second["changes"]) == 2
    seqs = [c["seq"] for c in first["changes"] + second["changes"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6


def test_a_private_product_is_a_record_only_for_those_who_may_see_it(client, actor, lender, loan_agent, kyc_partner):
    start = Change.objects.newest()
    product = services.create_product(lender=lender.participant, actor=actor, name="Private Line", is_private=True)
    outsider, owner = get_token(client, kyc_partner), get_token(client, lender)

    def product_record(token):
        return [c["record"] for c in feed(client, token, after=start)["changes"] if c["kind"] == "product"][-1]

    assert product_record(outsider) is None
    assert product_record(owner)["id"] == str(product.pk) and product_record(owner)["isPrivate"] is True


def test_the_feed_is_signed_and_bad_input_is_a_clear_400(client, agent_token, lender):
    verify_registry_signature(client, client.get("/service/changes?after=0", **bearer(agent_token)))
    for query in ("after=-1", "after=x", "limit=0", "limit=501", "after=99999999999999999999999"):
        response = client.get(f"/service/changes?{query}", **bearer(agent_token))
        assert response.status_code == 400, query
        assert set(response.json()) >= {"errorCode", "message"}, query
    assert client.get("/service/changes").status_code == 401


def test_a_reader_behind_the_retention_is_told_to_take_a_snapshot(client, agent_token, lender, settings):
    settings.OCEN_CHANGE_RETENTION_DAYS = 30
    old = timezone.now() - dt.timedelta(days=31)
    stale = [Change.objects.create(kind=ChangeKind.PARTICIPANT, object_id=lender.participant.pk, at=old) for _ in "ab"]
    Change.objects.filter(seq__lt=stale[0].seq).delete()  # older entries of other tests' fixtures
    call_command("trim_changes", stdout=io.StringIO())

    assert list(Change.objects.filter(at__lt=timezone.now() - dt.timedelta(days=30))) == [stale[1]]  # the mark
    gone = client.get(f"/service/changes?after={stale[0].seq}", **bearer(agent_token))
    assert gone.status_code == 410 and "snapshot" in gone.json()["message"]
    verify_registry_signature(client, gone)
    assert client.get(f"/service/changes?after={stale[1].seq}", **bearer(agent_token)).status_code == 200


def test_the_snapshot_is_every_record_at_one_sequence_signed(client, actor, agent_token, lender, loan_agent, network):
    services.suspend_participant(participant=lender.participant, actor=actor, reason="check")
    response = client.get("/service/snapshot", **bearer(agent_token))
    body = b"".join(response.streaming_content)
    snapshot = json.loads(body)

    assert response.status_code == 200 and snapshot["seq"] == Change.objects.newest()
    assert response["ETag"] == f'"{snapshot["seq"]}"'
    assert {p["id"] for p in snapshot["participants"]} == {
        str(pk) for pk in Participant.objects.values_list("pk", flat=True)
    }
    by_id = {p["id"]: p for p in snapshot["participants"]}
    assert by_id[str(lender.participant.pk)] == details(client, agent_token, lender.participant)
    assert [n["id"] for n in snapshot["networks"]] == [str(network.pk)]
    assert [p["id"] for p in snapshot["products"]] == [str(network.product_id)]

    class Sent(dict):  # the streamed bytes as sent, with their header, for the independent check
        content = body

    verify_registry_signature(client, Sent({"x-jws-signature": response["x-jws-signature"]}))
    unchanged = client.get("/service/snapshot", HTTP_IF_NONE_MATCH=response["ETag"], **bearer(agent_token))
    assert unchanged.status_code == 304


def test_a_withdrawn_product_is_one_fact_in_its_lookup_the_feed_and_the_snapshot(client, actor, agent_token, network):
    start = Change.objects.newest()
    services.withdraw_product(product=network.product, actor=actor, reason="discontinued")
    looked_up = client.get(f"/service/products/{network.product_id}", **bearer(agent_token)).json()["data"]
    network_looked_up = client.get(f"/service/product-networks/{network.pk}", **bearer(agent_token)).json()
    assert looked_up["status"] == "WITHDRAWN"

    entries = {(c["kind"], c["id"]): c["record"] for c in feed(client, agent_token, after=start)["changes"]}
    assert entries[("product", str(network.product_id))] == looked_up
    assert {k: v for k, v in entries[("network", str(network.pk))].items() if k != "members"} == network_looked_up
    snapshot = json.loads(b"".join(client.get("/service/snapshot", **bearer(agent_token)).streaming_content))
    assert snapshot["products"] == [looked_up]


def test_network_members_are_listed_with_roles_as_the_wire_spells_them(client, actor, agent_token, network, settings):
    derived = services.onboard_participant(
        org_name="Ledger Insights",
        role="DERIVED_DATA_PARTNER",
        base_url="https://insights.example.in/ocen",
        public_key=public_pem(rsa_key("derived")),
        actor=actor,
    )
    services.add_network_member(network=network, participant=derived.participant, actor=actor)
    settings.OCEN_ROLE_SPELLING = "reference"
    [record] = [c["record"] for c in feed(client, agent_token)["changes"] if c["kind"] == "network"][-1:]
    assert {"id": str(derived.participant.pk), "role": "DERIVED_DATA_PROVIDER"} in record["members"]


def test_joining_one_network_of_a_private_product_names_all_its_networks(
    client, actor, lender, loan_agent, kyc_partner
):
    product = services.create_product(lender=lender.participant, actor=actor, name="Private Line", is_private=True)
    first = services.create_network(product=product, loan_agent=loan_agent.participant, name="First", actor=actor)
    second = services.create_network(product=product, loan_agent=loan_agent.participant, name="Second", actor=actor)
    outsider = get_token(client, kyc_partner)
    start = Change.objects.newest()
    joined = services.add_network_member(network=first, participant=kyc_partner.participant, actor=actor)

    records = {(c["kind"], c["id"]): c["record"] for c in feed(client, outsider, after=start)["changes"]}
    assert records[("network", str(second.pk))]["id"] == str(second.pk)  # now visible through the first
    assert records[("product", str(product.pk))]["isPrivate"] is True
    start = Change.objects.newest()
    services.remove_network_member(membership=joined, actor=actor)
    records = {(c["kind"], c["id"]): c["record"] for c in feed(client, outsider, after=start)["changes"]}
    assert records[("network", str(second.pk))] is None and records[("product", str(product.pk))] is None


def test_a_reader_ahead_of_the_registry_is_told_to_take_a_snapshot(client, agent_token):
    ahead = client.get(f"/service/changes?after={Change.objects.newest() + 1}", **bearer(agent_token))
    assert ahead.status_code == 410 and "snapshot" in ahead.json()["message"]


@pytest.mark.parametrize("after", ["1_0", "+5", "\uff11", " 1", "0x10"])
def test_after_is_ascii_digits_only(client, agent_token, after):
    assert client.get("/service/changes", {"after": after}, **bearer(agent_token)).status_code == 400


def test_the_snapshot_comes_gzipped_to_who_asks_and_signed_over_its_json(client, agent_token, lender, network):
    plain = b"".join(client.get("/service/snapshot", **bearer(agent_token)).streaming_content)
    response = client.get("/service/snapshot", HTTP_ACCEPT_ENCODING="br;q=1, gzip;q=0.5", **bearer(agent_token))
    compressed = b"".join(response.streaming_content)

    assert response["Content-Encoding"] == "gzip" and response["Vary"] == "Accept-Encoding"
    body = gzip.decompress(compressed)
    assert json.loads(body)["participants"] == json.loads(plain)["participants"] and len(compressed) < len(body)

    class Sent(dict):
        content = body  # what a client reads once it has decoded the transfer

    verify_registry_signature(client, Sent({"x-jws-signature": response["x-jws-signature"]}))
    assert response["ETag"] == f'W/"{json.loads(body)["seq"]}"'
    again = client.get(
        "/service/snapshot", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=response["ETag"], **bearer(agent_token)
    )
    assert again.status_code == 304
    refused = client.get("/service/snapshot", HTTP_ACCEPT_ENCODING="gzip;q=0, identity", **bearer(agent_token))
    assert "Content-Encoding" not in refused


def test_a_streamed_signature_is_the_one_the_whole_body_gets(db):
    body = json.dumps({"participants": [{"id": i, "name": "ನಮಸ್ಕಾರ"} for i in range(2000)]}).encode()
    signer = signing.DetachedSigner()
    for start in range(0, len(body), 777):
        signer.update(body[start : start + 777])
    assert signer.signature() == signing.sign_detached(body, signer.kid)  # RS256 (PKCS#1 v1.5) is deterministic


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the flush after it keeps the migrations' rows
def test_a_reader_following_after_never_misses_a_change_committed_late(live_server, actor, lender, loan_agent):
    """Writers that hold their transaction open after their change (so sequence numbers are allocated well
    before commit, in an order commits need not follow), and a reader following nextAfter over HTTP."""
    token = access_token(live_server.url, loan_agent)
    start = Change.objects.newest()
    participants = []
    for index in range(4):
        participants.append(
            services.onboard_participant(
                org_name=f"Writer {index}",
                role="LENDER",
                base_url=f"https://writer{index}.example.in",
                public_key=public_pem(rsa_key(f"writer-{index}")),
                actor=actor,
            ).participant
        )
    writing = threading.Event()
    seen, errors = [], []

    def writer(participant, rounds=6):
        rng = random.Random(participant.pk.int)
        try:
            for _ in range(rounds):
                with transaction.atomic():
                    services.suspend_participant(participant=participant, actor=actor, reason="race")
                    time.sleep(rng.uniform(0, 0.05))  # committed late: others allocate and commit meanwhile
                with transaction.atomic():
                    services.reinstate_participant(participant=participant, actor=actor)
                    time.sleep(rng.uniform(0, 0.05))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def reader():
        after = start
        while writing.is_set() or after < Change.objects.newest():
            page = requests.get(
                f"{live_server.url}/service/changes?after={after}&limit=7",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ).json()
            seen.extend(c["seq"] for c in page["changes"])
            after = page["nextAfter"]
        connections.close_all()

    writing.set()
    threads = [threading.Thread(target=writer, args=(p,)) for p in participants]
    follower = threading.Thread(target=reader)
    for thread in threads:
        thread.start()
    follower.start()
    for thread in threads:
        thread.join()
    writing.clear()
    follower.join(timeout=60)

    assert not errors, errors
    written = list(Change.objects.after(start).values_list("seq", flat=True))
    assert len(written) >= 4 * 6 * 2
    assert seen == written  # every entry, once, in order
