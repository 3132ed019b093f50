"""Product registry lookups (contract §5.2): products, networks, network participants keyed by role."""

import json

import pytest
from django.utils import timezone

from participants import services
from participants.models import Role
from tests.authapi.conftest import bearer, get_token
from tests.authapi.test_participant_details import assert_error
from tests.keys import (
    FIXTURES,
    jose4j_detached_signature,
    public_pem,
    reference_key_set,
    reference_private_key,
    rsa_key,
)


def members(client, token, network):
    return client.get(f"/service/product-networks/{network.id}/participants", **bearer(token))


def test_product_lookup(client, agent_token, product):
    response = client.get(f"/service/products/{product.id}", **bearer(agent_token))
    assert response.status_code == 200 and response["ETag"]
    data = response.json()["data"]
    assert data["id"] == str(product.id) and data["name"] == "Working Capital 90"
    assert data["lenderId"] == str(product.lender_id) and data["isAAFlowRequired"] is True
    assert data["isPrivate"] is False and data["status"] == "ACTIVE"


def test_network_participants_keyed_by_every_role(client, actor, agent_token, network, kyc_partner, lender, loan_agent):
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    response = members(client, agent_token, network)
    assert response.status_code == 200 and response["Cache-Control"].startswith("private")
    body = response.json()
    assert list(body) == list(Role.values)
    assert [item["id"] for item in body["LENDER"]] == [str(lender.participant.id)]
    assert [item["id"] for item in body["LOAN_AGENT"]] == [str(loan_agent.participant.id)]
    assert [item["id"] for item in body["KYC_PARTNER"]] == [str(kyc_partner.participant.id)]
    assert body["DISBURSEMENT_PARTNER"] == [] and body["REGULATOR"] == []
    # Each item is the §5.1 record, exactly as GetParticipantDetails serves it.
    detail = client.get(f"/service/participant-roles/{lender.participant.id}", **bearer(agent_token)).json()
    assert body["LENDER"][0] == detail


def test_network_document(client, actor, agent_token, network, kyc_partner):
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    body = client.get(f"/service/product-networks/{network.id}", **bearer(agent_token)).json()
    assert body["id"] == str(network.id) and body["memberCount"] == 3
    assert body["product"]["id"] == str(network.product_id)


def test_suspended_and_offboarded_members_are_not_listed(client, actor, agent_token, network, kyc_partner):
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    services.suspend_participant(participant=kyc_partner.participant, actor=actor)
    assert members(client, agent_token, network).json()["KYC_PARTNER"] == []
    services.reinstate_participant(participant=kyc_partner.participant, actor=actor)
    assert len(members(client, agent_token, network).json()["KYC_PARTNER"]) == 1
    services.offboard_participant(participant=kyc_partner.participant, actor=actor)
    assert members(client, agent_token, network).json()["KYC_PARTNER"] == []


def test_a_withdrawn_product_lists_no_participants(client, actor, agent_token, network, lender):
    services.offboard_participant(participant=lender.participant, actor=actor)
    body = members(client, agent_token, network).json()
    assert all(items == [] for items in body.values())


def test_private_products_are_visible_only_to_members_and_the_lender(client, actor, lender, loan_agent, kyc_partner):
    private = services.create_product(lender=lender.participant, actor=actor, name="Invite only", is_private=True)
    network = services.create_network(product=private, loan_agent=loan_agent.participant, name="Closed", actor=actor)
    outsider = get_token(client, kyc_partner)
    for url in (
        f"/service/products/{private.id}",
        f"/service/product-networks/{network.id}",
        f"/service/product-networks/{network.id}/participants",
    ):
        assert_error(client.get(url, **bearer(outsider)), 404, "NOT_FOUND")
        for insider in (lender, loan_agent):
            assert client.get(url, **bearer(get_token(client, insider))).status_code == 200
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    assert client.get(f"/service/products/{private.id}", **bearer(outsider)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "products/nope",
        "product-networks/nope",
        "product-networks/nope/participants",
        "products/8b7d8a52-8c1e-4e59-9d55-2a3c9e1f0a11",
    ],
)
def test_unknown_ids_are_404(client, agent_token, path):
    assert_error(client.get(f"/service/{path}", **bearer(agent_token)), 404, "NOT_FOUND")


def test_lookups_need_a_token(client, network):
    assert_error(members(client, "nope", network), 401, "INVALID_TOKEN")


def test_network_listing_query_count_is_fixed(client, actor, agent_token, network, django_assert_num_queries):
    # Bearer check, visible network with its product, listed memberships with participants, their keys.
    with django_assert_num_queries(4) as captured:
        assert members(client, agent_token, network).status_code == 200
    for index in range(6):
        extra = services.onboard_participant(
            org_name=f"Partner {index}",
            role="COLLECTIONS_PARTNER",
            base_url=f"https://c{index}.example.in",
            public_key=public_pem(rsa_key(f"partner-{index}")),
            actor=actor,
        )
        services.add_network_member(network=network, participant=extra.participant, actor=actor)
        services.add_participant_key(
            participant=extra.participant, public_key=public_pem(rsa_key(f"p2-{index}")), actor=actor
        )
    with django_assert_num_queries(len(captured.captured_queries)):
        assert len(members(client, agent_token, network).json()["COLLECTIONS_PARTNER"]) == 6


def test_reference_loan_agent_path(client, actor, loan_agent, product, network):
    """Token → network participants → LENDER[*].baseUrl → verify a lender's signature with its publicKey."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from jwcrypto import jwk

    # The lender signs with the reference client's published key, registered as its second key.
    services.add_participant_key(
        participant=product.lender,
        public_key=json.dumps({k: reference_key_set()["keys"][0][k] for k in ("kty", "n", "e")}),
        actor=actor,
        primary_from=timezone.now(),
    )
    first = product.lender.keys.order_by("created_at").first()
    services.retire_key(key=first, actor=actor)

    token = get_token(client, loan_agent)
    lenders = members(client, token, network).json()["LENDER"]
    assert [item["baseUrl"] for item in lenders] == ["https://lender.example.in/ocen"]
    body = (FIXTURES / "create_loan_application_response.json").read_bytes()
    signature = jose4j_detached_signature(body, reference_private_key())
    header_b64, _, signature_b64 = signature.split(".")
    public = jwk.JWK.from_json(lenders[0]["publicKey"]).get_op_key("verify")
    import base64

    public.verify(
        base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4)),
        header_b64.encode() + b"." + body,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
