"""Product registry (contract §2, second phase): rules, memberships, and their removal at offboarding."""

import pytest
from django.core.exceptions import ValidationError

from participants import services
from participants.models import AuditEvent, NetworkMembership, Product, ProductNetwork, ProductStatus


def current_members(network):
    return {(m.participant_id, m.role) for m in network.memberships.current()}


def test_creating_a_product_and_network(actor, lender, loan_agent, product, network):
    assert product.lender == lender.participant and product.is_aa_flow_required
    assert network.created_by == loan_agent.participant and network.product == product
    assert current_members(network) == {
        (loan_agent.participant.id, "LOAN_AGENT"),
        (lender.participant.id, "LENDER"),
    }
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"product.created", "network.created"} <= actions


def test_a_products_owner_must_be_a_lender(actor, loan_agent):
    with pytest.raises(ValidationError, match="owner must be a lender"):
        services.create_product(lender=loan_agent.participant, actor=actor, name="Not allowed")
    assert Product.objects.count() == 0


def test_product_name_is_at_most_35_characters(actor, lender):
    with pytest.raises(ValidationError) as excinfo:
        services.create_product(lender=lender.participant, actor=actor, name="x" * 36)
    assert "name" in excinfo.value.message_dict
    assert Product.objects.count() == 0


def test_a_networks_creator_must_be_a_loan_agent(actor, product, kyc_partner):
    with pytest.raises(ValidationError, match="created by a loan agent"):
        services.create_network(product=product, loan_agent=kyc_partner.participant, name="N", actor=actor)
    assert ProductNetwork.objects.count() == 0


def test_adding_a_member_once(actor, network, kyc_partner):
    membership = services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    assert membership.role == "KYC_PARTNER" and membership.added_by == "asha"
    with pytest.raises(ValidationError, match="already a member"):
        services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    assert network.memberships.current().filter(participant=kyc_partner.participant).count() == 1
    assert AuditEvent.objects.filter(action="network.member_added").count() == 1


@pytest.mark.parametrize("state", ["suspended", "offboarded", "under review"])
def test_only_approved_active_participants_can_be_added(actor, network, kyc_partner, state, settings):
    participant = kyc_partner.participant
    if state == "suspended":
        services.suspend_participant(participant=participant, actor=actor)
    elif state == "offboarded":
        services.offboard_participant(participant=participant, actor=actor)
    else:
        settings.OCEN_FOUR_EYES = True
        from tests.keys import public_pem, rsa_key

        participant = services.onboard_participant(
            org_name="Pending KYC",
            role="KYC_PARTNER",
            base_url="https://p.example.in",
            public_key=public_pem(rsa_key("pending-kyc")),
            actor=actor,
        ).participant
    with pytest.raises(ValidationError, match="Only approved, active participants"):
        services.add_network_member(network=network, participant=participant, actor=actor)


def test_removing_a_member_keeps_history_and_allows_rejoining(actor, network, kyc_partner):
    membership = services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    services.remove_network_member(membership=membership, actor=actor, reason="contract ended")
    assert not network.memberships.current().filter(participant=kyc_partner.participant).exists()
    assert NetworkMembership.objects.get(pk=membership.pk).ended_reason == "contract ended"
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    assert network.memberships.filter(participant=kyc_partner.participant).count() == 2


def test_offboarding_removes_memberships_atomically_and_audits_them(actor, network, kyc_partner):
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    services.offboard_participant(participant=kyc_partner.participant, actor=actor)
    assert not NetworkMembership.objects.current().filter(participant=kyc_partner.participant).exists()
    ended = NetworkMembership.objects.get(participant=kyc_partner.participant)
    assert ended.ended_reason == "participant offboarded"
    details = AuditEvent.objects.get(action="participant.offboarded").details["resourceMappingsRemoved"]
    assert details == {
        "networkMemberships": [{"networkId": str(network.id), "role": "KYC_PARTNER"}],
        "productsWithdrawn": [],
        "subscriptionsRemoved": [],
    }


def test_offboarding_a_lender_withdraws_its_products(actor, lender, product, network):
    services.offboard_participant(participant=lender.participant, actor=actor)
    product.refresh_from_db()
    assert product.status == ProductStatus.WITHDRAWN and product.withdrawn_at is not None
    details = AuditEvent.objects.get(action="participant.offboarded").details["resourceMappingsRemoved"]
    assert details["productsWithdrawn"] == [str(product.id)]


def test_a_withdrawn_product_takes_no_new_members_or_networks(actor, product, network, kyc_partner, loan_agent):
    services.withdraw_product(product=product, actor=actor, reason="discontinued")
    with pytest.raises(ValidationError, match="withdrawn"):
        services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    with pytest.raises(ValidationError, match="withdrawn"):
        services.create_network(product=product, loan_agent=loan_agent.participant, name="Late", actor=actor)


def test_suspension_keeps_memberships(actor, network, kyc_partner):
    services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    services.suspend_participant(participant=kyc_partner.participant, actor=actor)
    assert network.memberships.current().filter(participant=kyc_partner.participant).exists()


def test_a_lender_has_one_current_product_per_name_ignoring_case(actor, lender, product):
    with pytest.raises(ValidationError, match="already has a product of that name"):
        services.create_product(lender=lender.participant, actor=actor, name="WORKING CAPITAL 90")
    other = services.create_product(lender=lender.participant, actor=actor, name="Term Loan 12")
    with pytest.raises(ValidationError, match="already has a product of that name"):
        services.update_product(product=other, actor=actor, name="working capital 90")
    services.withdraw_product(product=product, actor=actor, reason="replaced")
    again = services.create_product(lender=lender.participant, actor=actor, name="Working Capital 90")
    assert again.pk != product.pk  # a withdrawn product's name is free again
