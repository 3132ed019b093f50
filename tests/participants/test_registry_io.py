"""import_registry / export_registry: round trip, idempotence, all-or-nothing, no secrets."""

import base64
import copy
import json
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from participants import services
from participants.models import (
    AuditEvent,
    NetworkMembership,
    Organisation,
    Participant,
    ParticipantKey,
    ParticipantState,
    Product,
    ProductNetwork,
)
from tests.dot import dot_token_request
from tests.keys import png, reference_key_set


def export() -> dict:
    out = StringIO()
    call_command("export_registry", stdout=out)
    return json.loads(out.getvalue())


def import_file(tmp_path, document) -> dict:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(document))
    out = StringIO()
    call_command("import_registry", str(path), stdout=out)
    return json.loads(out.getvalue())


def counts():
    return [
        m.objects.count()
        for m in (Organisation, Participant, ParticipantKey, Product, ProductNetwork, NetworkMembership)
    ]


ORG, LENDER, AGENT = (
    "0b9f3c1e-1111-4c1e-9a51-3b8f0c7e1a01",
    "0b9f3c1e-2222-4c1e-9a51-3b8f0c7e1a02",
    "0b9f3c1e-3333-4c1e-9a51-3b8f0c7e1a03",
)
PRODUCT, NETWORK = "0b9f3c1e-4444-4c1e-9a51-3b8f0c7e1a04", "0b9f3c1e-5555-4c1e-9a51-3b8f0c7e1a05"


def reference_jwk(kid):
    return {**{k: reference_key_set()["keys"][0][k] for k in ("kty", "n", "e")}, "kid": kid}


def document():
    return {
        "format": "ocen-registry/1",
        "organisations": [
            {"id": ORG, "name": "Kaveri Finance", "description": "", "website": "", "email": "", "phone": ""}
        ],
        "participants": [
            {
                "id": LENDER,
                "orgId": ORG,
                "role": "LENDER",
                "baseUrl": "https://lend.kaveri.in",
                "participantRoleStatus": "APPROVED",
                "status": "ACTIVE",
                "keys": [{"kid": "l1", "jwk": reference_jwk("l1")}],
            },
            {
                "id": AGENT,
                "orgId": ORG,
                "role": "LOAN_AGENT",
                "baseUrl": "https://agent.kaveri.in",
                "participantRoleStatus": "APPROVED",
                "status": "ACTIVE",
                "keys": [{"kid": "a1", "jwk": reference_jwk("a1")}],
            },
        ],
        "products": [{"id": PRODUCT, "name": "Kaveri Flexi", "lenderId": LENDER, "isPrivate": True}],
        "productNetworks": [
            {
                "id": NETWORK,
                "name": "Kaveri Net",
                "productId": PRODUCT,
                "createdBy": AGENT,
                "members": [
                    {"participantId": AGENT, "role": "LOAN_AGENT"},
                    {"participantId": LENDER, "role": "LENDER"},
                ],
            }
        ],
    }


def test_import_creates_everything_and_issues_working_credentials(tmp_path, db):
    result = import_file(tmp_path, document())
    assert result["created"] == {
        "organisations": 1,
        "participants": 2,
        "keys": 2,
        "products": 1,
        "productNetworks": 1,
        "memberships": 2,
    }
    assert {c["participantId"] for c in result["credentials"]} == {LENDER, AGENT}
    for credentials in result["credentials"]:
        assert dot_token_request(credentials["clientId"], credentials["clientSecret"])[0] == 200
    assert Product.objects.get().is_private and ProductNetwork.objects.get().memberships.current().count() == 2


def test_import_then_export_round_trips(tmp_path, db):
    import_file(tmp_path, document())
    exported = export()
    assert "clientSecret" not in json.dumps(exported)
    assert [o["name"] for o in exported["organisations"]] == ["Kaveri Finance"]
    assert {p["id"] for p in exported["participants"]} == {LENDER, AGENT}
    assert exported["productNetworks"][0]["members"] == document()["productNetworks"][0]["members"]
    # Exporting what was imported, then importing that, changes nothing.
    before = counts()
    assert import_file(tmp_path, exported) == {
        "created": dict.fromkeys(
            ("organisations", "participants", "keys", "products", "productNetworks", "memberships"), 0
        ),
        "credentials": [],
        "awaitingApproval": [],
        "notRestored": [],
    }
    assert counts() == before and export() == exported


def test_a_key_only_participant_is_imported_key_only_and_gets_no_secret(tmp_path, db):
    key_only = copy.deepcopy(document())
    key_only["participants"][0]["clientAuthentication"] = "private_key_jwt"
    result = import_file(tmp_path, key_only)
    issued = {entry["participantId"]: entry for entry in result["credentials"]}
    first = key_only["participants"][0]["id"]
    assert "clientSecret" not in issued[first] and issued[first]["clientAuthentication"] == ["private_key_jwt"]
    assert all("clientSecret" in entry for pid, entry in issued.items() if pid != first)
    assert Participant.objects.get(pk=first).key_only
    assert next(p for p in export()["participants"] if p["id"] == first)["clientAuthentication"] == "private_key_jwt"


def test_export_to_a_file_says_what_it_wrote(tmp_path, db):
    created = import_file(tmp_path, document())["created"]
    out = StringIO()
    call_command("export_registry", "--output", str(tmp_path / "out.json"), stdout=out)
    summary = json.loads(out.getvalue())
    assert summary == {"output": str(tmp_path / "out.json"), "exportedAt": summary["exportedAt"], **created}
    assert summary["exportedAt"].endswith("Z") and json.loads((tmp_path / "out.json").read_text()) == export()
    with pytest.raises(CommandError, match=r"^Cannot write .*nowhere"):
        call_command("export_registry", "--output", str(tmp_path / "nowhere" / "out.json"))


def test_an_organisation_logo_travels_with_the_export(tmp_path, db):
    with_logo = copy.deepcopy(document())
    with_logo["organisations"][0]["logo"] = base64.b64encode(png()).decode()
    import_file(tmp_path, with_logo)
    organisation = Organisation.objects.get()
    assert bytes(organisation.logo) == png() and organisation.logo_content_type == "image/png"
    assert export()["organisations"][0]["logo"] == with_logo["organisations"][0]["logo"]


def test_export_of_a_live_registry_imports_as_a_no_op(tmp_path, actor, network, kyc_partner):
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    exported = export()
    assert len(exported["participants"]) == 3 and len(exported["productNetworks"][0]["members"]) == 3
    before = counts()
    assert import_file(tmp_path, exported)["created"]["participants"] == 0
    assert counts() == before


def test_import_is_idempotent(tmp_path, db):
    import_file(tmp_path, document())
    before = counts()
    assert import_file(tmp_path, document())["credentials"] == []
    assert counts() == before


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: d["participants"][1].update(baseUrl="http://agent.kaveri.in"), "participants[1].baseUrl"),
        (lambda d: d["participants"][1]["keys"][0].update(jwk=reference_key_set()["keys"][0]), "private key material"),
        (lambda d: d["products"][0].update(lenderId=AGENT), "products[0].lenderId"),
        (lambda d: d["products"][0].update(name="x" * 36), "products[0].name"),
        (lambda d: d["productNetworks"][0].update(createdBy=LENDER), "productNetworks[0].createdBy"),
        (lambda d: d["participants"][0].update(role="BORROWER"), "participants[0].role"),
        (lambda d: d["participants"][0].update(id="not-a-uuid"), "participants[0].id"),
        (lambda d: d["organisations"][0].update(logo=base64.b64encode(b"<svg/>").decode()), "organisations[0].logo"),
        (lambda d: d["organisations"][0].update(logo="not base64!"), "organisations[0].logo: must be base64"),
    ],
)
def test_one_bad_row_imports_nothing(tmp_path, db, breakage, message):
    bad = copy.deepcopy(document())
    breakage(bad)
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        import_file(tmp_path, bad)
    assert "Nothing was imported" in str(excinfo.value) and message in str(excinfo.value)
    assert counts() == before


def test_import_refuses_other_formats_and_garbage(tmp_path, db):
    with pytest.raises(CommandError, match="format"):
        import_file(tmp_path, {"participants": []})
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_registry", str(path))


def test_import_never_restores_a_membership_for_a_participant_that_may_not_authenticate(tmp_path, db):
    restored = document()
    restored["participants"][1]["status"] = "SUSPENDED"
    result = import_file(tmp_path, restored)
    assert result["created"]["memberships"] == 1  # the lender's
    assert len(result["notRestored"]) == 1 and "members[0]" in result["notRestored"][0]
    assert [m.participant_id for m in NetworkMembership.objects.current()] == [uuid.UUID(LENDER)]
    assert Participant.objects.get(pk=AGENT).status == "SUSPENDED"


def test_an_offboarded_member_is_imported_as_a_tombstone_without_memberships(tmp_path, db):
    gone = document()
    gone["participants"][1]["status"] = "OFFBOARDED"
    result = import_file(tmp_path, gone)
    tombstone = Participant.objects.get(pk=AGENT)
    assert tombstone.status == "OFFBOARDED" and tombstone.application is None
    assert {c["participantId"] for c in result["credentials"]} == {LENDER}  # no secret for a tombstone
    assert not NetworkMembership.objects.current().filter(participant=tombstone).exists()
    assert set(tombstone.keys.values_list("status", flat=True)) == {"REVOKED"}


def test_a_withdrawn_product_is_imported_withdrawn_with_its_network(tmp_path, db):
    withdrawn = document()
    withdrawn["products"][0]["status"] = "WITHDRAWN"
    import_file(tmp_path, withdrawn)
    assert Product.objects.get().is_withdrawn and ProductNetwork.objects.get().memberships.current().count() == 2
    assert AuditEvent.objects.get(action="product.withdrawn").details["reason"] == "withdrawn before import"


def test_import_goes_through_the_services_with_one_audit_event_per_record(tmp_path, db):
    import_file(tmp_path, document())
    actions = sorted(AuditEvent.objects.values_list("action", flat=True))
    assert actions == sorted(
        [
            "organisation.created",
            "participant.onboarded",
            "participant.onboarded",
            "product.created",
            "network.created",
            "network.member_added",
            "network.member_added",
            "registry.imported",
        ]
    )


def test_with_four_eyes_an_import_approves_no_one(tmp_path, db, settings):
    settings.OCEN_FOUR_EYES = True
    result = import_file(tmp_path, document())
    assert set(result["awaitingApproval"]) == {LENDER, AGENT}
    assert set(Participant.objects.values_list("review_status", flat=True)) == {"UNDER_REVIEW"}
    assert Participant.objects.filter(approved_by=None, approved_at=None).count() == 2
    for credentials in result["credentials"]:  # issued, shown once, but unusable until a second administrator approves
        assert dot_token_request(credentials["clientId"], credentials["clientSecret"])[0] == 401
    assert result["created"]["memberships"] == 0 and len(result["notRestored"]) == 2


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            lambda d: d["participants"][1]["keys"].append(d["participants"][1]["keys"][0]),
            "participants[1].keys[1].keys: This participant already has a key with kid 'a1'.",
        ),
        (
            lambda d: d["participants"].append({**d["participants"][1], "id": "0b9f3c1e-6666-4c1e-9a51-3b8f0c7e1a06"}),
            "participants[2].role: Kaveri Finance already has a Loan agent participant.",
        ),
        (lambda d: d["participants"].append(d["participants"][0]), "participants[2].id: 0b9f3c1e-2222"),
        (
            lambda d: d["organisations"].append(
                {**d["organisations"][0], "id": "0b9f3c1e-7777-4c1e-9a51-3b8f0c7e1a07"}
            ),
            "organisations[1].name: An organisation named 'Kaveri Finance' already exists.",
        ),
        (lambda d: d["participants"][0].update(keys=[]), "participants[0].keys: a participant needs at least one key."),
        (lambda d: d["productNetworks"][0].update(members="x"), "productNetworks[0].members: must be a list."),
        (lambda d: d["productNetworks"][0].update(members={"a": 1}), "productNetworks[0].members: must be a list."),
        (lambda d: d["productNetworks"][0].update(members=[5]), "productNetworks[0].members[0]: must be an object."),
        (lambda d: d["participants"][0]["keys"][0].update(validUntil="2027-13-45T00:00:00Z"), "keys[0].validUntil"),
        (lambda d: d["participants"][0]["keys"][0].update(validUntil="2099-01-01T00:00:00"), "keys[0].validUntil"),
        (lambda d: d["organisations"][0].update(name="Kaveri\u0000Finance"), "document: a string holds a NUL"),
        (lambda d: d["participants"][0].update(clientId="c" * 300), "participants[0].clientId: A client ID is"),
        (lambda d: d["participants"][0].update(clientId=["abc"]), "participants[0].clientId: must be a string."),
    ],
    ids=[
        "duplicate-key",
        "duplicate-role",
        "duplicate-id",
        "duplicate-organisation",
        "no-key",
        "members-string",
        "members-object",
        "member-number",
        "invalid-date",
        "naive-date",
        "nul",
        "long-client-id",
        "list-client-id",
    ],
)
def test_duplicates_are_one_line_refusals_not_crashes(tmp_path, db, breakage, message):
    bad = copy.deepcopy(document())
    breakage(bad)
    with pytest.raises(CommandError) as excinfo:
        import_file(tmp_path, bad)
    assert message in str(excinfo.value) and "Traceback" not in str(excinfo.value)
    assert counts() == [0, 0, 0, 0, 0, 0]


def test_key_states_come_back_through_the_key_services(tmp_path, db):
    import datetime as dt

    from django.utils import timezone

    later = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    earlier = (timezone.now() - dt.timedelta(hours=2)).isoformat()
    keys = document()
    keys["participants"][0]["keys"] = [
        {"kid": "active", "jwk": reference_jwk("active")},
        {"kid": "retired", "jwk": other_jwk("retired"), "status": "RETIRED", "validUntil": later},
        {"kid": "ended", "jwk": other_jwk("ended"), "status": "RETIRED", "validUntil": earlier},
        {"kid": "revoked", "jwk": other_jwk("revoked"), "status": "REVOKED", "revocationReason": "leaked"},
    ]
    import_file(tmp_path, keys)
    stored = {k.kid: k for k in ParticipantKey.objects.filter(participant_id=LENDER)}
    assert stored["active"].status == "ACTIVE"
    assert stored["retired"].status == "RETIRED"
    assert timezone.now() < stored["retired"].valid_until <= dt.datetime.fromisoformat(later)
    assert stored["ended"].status == "REVOKED" and "validity ended" in stored["ended"].revocation_reason
    assert stored["revoked"].status == "REVOKED" and stored["revoked"].revocation_reason == "leaked"


def other_jwk(kid):
    from jwcrypto import jwk

    from tests.keys import public_pem, rsa_key

    return {**jwk.JWK.from_pem(public_pem(rsa_key(kid))).export_public(as_dict=True), "kid": kid}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "ocen-registry/1", "organisations": [{"id": "x", "name": "\\ud800"}]}', "lone surrogate"),
        ('{"format": "ocen-registry/1", "x": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 32"),
        ("[" * 5000 + "]" * 5000, "not valid JSON"),
    ],
)
def test_a_document_nothing_could_store_is_refused_in_one_line(tmp_path, db, text, message):
    path = tmp_path / "registry.json"
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        call_command("import_registry", str(path))
    assert counts() == [0, 0, 0, 0, 0, 0]


def test_final_records_import_through_the_services(tmp_path, db):
    """Rejected and offboarded are both final: a rejected (even formerly suspended) application and an offboarded
    lender whose product is withdrawn come back as they were, not as a refusal."""
    final = document()
    final["participants"][1].update(participantRoleStatus="REJECTED", status="SUSPENDED")
    final["participants"][0]["status"] = "OFFBOARDED"
    final["products"][0]["status"] = "WITHDRAWN"
    final["productNetworks"] = []
    import_file(tmp_path, final)
    agent, lender = Participant.objects.get(pk=AGENT), Participant.objects.get(pk=LENDER)
    assert agent.review_status == "REJECTED" and agent.state == ParticipantState.REJECTED
    assert lender.is_offboarded and Product.objects.get().is_withdrawn


@pytest.mark.parametrize(
    ("breakage", "messages"),
    [
        (
            lambda d: d["participants"][0].update(participantRoleStatus="FOO", status=None, clientId=5),
            [
                "participants[0].participantRoleStatus: unknown value 'FOO'.",
                "participants[0].status: unknown value None.",
                "participants[0].clientId: must be a string.",
            ],
        ),
        (
            lambda d: d["participants"][0]["keys"][0].update(status="LOST", primaryFrom="2099-01-01T00:00:00"),
            [
                "participants[0].keys[0].status: unknown value 'LOST'.",
                "participants[0].keys[0].primaryFrom: must be an RFC 3339 time with its zone.",
            ],
        ),
        (lambda d: d["participants"][0]["keys"].append(5), ["participants[0].keys[1]: must be an object."]),
        (
            lambda d: d["participants"][0].update(keys="k1"),
            ["participants[0].keys: a participant needs at least one key."],
        ),
        (lambda d: d["participants"][0].update(id=5), ["participants[0].id: 5 is not a UUID."]),
        (lambda d: d["participants"].append(None), ["participants[2]: must be an object."]),
        (
            lambda d: d["productNetworks"][0].update(productId=NETWORK, createdBy=NETWORK),
            [
                "productNetworks[0].productId: no such product in the registry or the file.",
                "productNetworks[0].createdBy: must be a loan agent in the registry or the file.",
            ],
        ),
        (
            lambda d: d["productNetworks"][0]["members"][1].update(role="BORROWER"),
            ["productNetworks[0].members[1].role: unknown role 'BORROWER'."],
        ),
        (
            lambda d: d.update(participants="all of them", products={}),
            ["participants: must be a list.", "products: must be a list."],
        ),
        (lambda d: d.update(format="ocen-registry/2"), ["format: expected 'ocen-registry/1'."]),
    ],
    ids=[
        "participant-fields",
        "key-fields",
        "key-not-an-object",
        "keys-not-a-list",
        "numeric-id",
        "null-record",
        "unknown-references",
        "member-role",
        "sections-not-lists",
        "other-format",
    ],
)
def test_every_problem_is_its_own_line_naming_the_record_and_field(tmp_path, db, breakage, messages):
    bad = copy.deepcopy(document())
    breakage(bad)
    with pytest.raises(CommandError) as excinfo:
        import_file(tmp_path, bad)
    lines = str(excinfo.value).splitlines()
    assert lines[0].startswith("Nothing was imported") and all(f"  {m}" in lines for m in messages)
    assert counts() == [0, 0, 0, 0, 0, 0]


def test_a_document_that_is_not_a_registry_document_is_refused_before_its_records(tmp_path, db):
    """A section that is not a list refuses the file at once, without a line for each record that would miss it."""
    bad = document()
    bad["organisations"] = {"id": ORG}
    with pytest.raises(CommandError) as excinfo:
        import_file(tmp_path, bad)
    assert str(excinfo.value).splitlines()[1:] == ["  organisations: must be a list."]


def test_a_record_that_exists_is_matched_by_its_id_and_not_read_again(tmp_path, db):
    """Idempotence: the fields of a record already in the registry are neither checked nor applied."""
    import_file(tmp_path, document())
    before = counts()
    again = document()
    again["organisations"][0].update(name=None, logo="not base64!")
    again["participants"][0].update(orgId="x", participantRoleStatus="FOO", keys=[])
    again["products"][0].update(lenderId=None, status="WITHDRAWN")
    again["productNetworks"][0].update(productId="x")
    again["productNetworks"][0]["members"][0]["role"] = "BORROWER"  # a membership that exists: its role is not read
    result = import_file(tmp_path, again)
    assert set(result["created"].values()) == {0} and result["credentials"] == []
    assert counts() == before and not Product.objects.get().is_withdrawn


def test_texts_and_flags_are_read_as_before(tmp_path, db):
    """Absent or null texts are empty, flags are their value's truth, and only "WITHDRAWN" withdraws a product."""
    lenient = document()
    lenient["organisations"][0].update(description=None, website=None)
    del lenient["organisations"][0]["phone"]
    lenient["products"][0].update(isPrivate=1, isAAFlowRequired=None, status="PAUSED")
    import_file(tmp_path, lenient)
    organisation, product = Organisation.objects.get(), Product.objects.get()
    assert (organisation.description, organisation.website, organisation.phone) == ("", "", "")
    assert product.is_private and not product.is_aa_flow_required and not product.is_withdrawn
