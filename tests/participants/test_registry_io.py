"""import_registry / export_registry: round trip, idempotence, all-or-nothing, no secrets."""

import copy
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from participants import services
from participants.models import NetworkMembership, Organisation, Participant, ParticipantKey, Product, ProductNetwork
from tests.dot import dot_token_request
from tests.keys import reference_key_set


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
    }
    assert counts() == before and export() == exported


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


def test_import_restores_memberships_of_suspended_members_and_withdrawn_products(tmp_path, db):
    restored = document()
    restored["participants"][1]["status"] = "SUSPENDED"
    restored["products"][0]["status"] = "WITHDRAWN"
    assert import_file(tmp_path, restored)["created"]["memberships"] == 2
    assert NetworkMembership.objects.current().count() == 2


def test_import_refuses_members_that_are_offboarded(tmp_path, db):
    bad = document()
    bad["participants"][1]["status"] = "OFFBOARDED"
    with pytest.raises(CommandError, match=r"productNetworks\[0\]\.members\[0\]: .* has been offboarded"):
        import_file(tmp_path, bad)
    assert counts() == [0, 0, 0, 0, 0, 0]
