"""The product registry in the admin: products, networks and memberships, through the services."""

import re

import pytest
from django.urls import reverse

from participants import services
from participants.models import AuditEvent, NetworkMembership, Product, ProductNetwork

PRODUCT_ADD = reverse("admin:participants_product_add")
NETWORK_ADD = reverse("admin:participants_productnetwork_add")


@pytest.fixture
def admin_client(client, registry_admin):
    client.force_login(registry_admin)
    return client


def product_form(lender, **overrides):
    return {
        "lender": str(lender.pk),
        "name": "Working Capital 90",
        "description": "",
        "derived_data_description": "",
        "is_aa_flow_required": "on",
        **overrides,
    }


def inline(*rows, initial=0):
    data = {
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(initial),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"memberships-{index}-{key}": value for key, value in row.items()})
    return data


def test_product_is_created_through_the_service(admin_client, lender):
    assert admin_client.post(PRODUCT_ADD, product_form(lender.participant)).status_code == 302
    product = Product.objects.get()
    assert product.lender == lender.participant and product.is_aa_flow_required
    assert AuditEvent.objects.get(action="product.created").actor == "asha"


def test_product_rules_are_shown_in_the_form(admin_client, lender, loan_agent):
    response = admin_client.post(PRODUCT_ADD, product_form(loan_agent.participant))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    response = admin_client.post(PRODUCT_ADD, product_form(lender.participant, name="x" * 36))
    assert response.status_code == 200 and "at most 35 characters" in response.content.decode()
    assert Product.objects.count() == 0


def test_network_is_built_with_members_in_the_admin(admin_client, product, loan_agent, kyc_partner):
    member = {"participant": str(kyc_partner.participant.pk), "role": ""}
    data = {
        "name": "MSME Credit Line",
        "description": "",
        "product": str(product.pk),
        "created_by": str(loan_agent.participant.pk),
        **inline(member),
    }
    assert admin_client.post(NETWORK_ADD, data).status_code == 302
    network = ProductNetwork.objects.get()
    assert {m.participant_id for m in network.memberships.current()} == {
        loan_agent.participant.pk,
        product.lender_id,
        kyc_partner.participant.pk,
    }


def test_membership_rules_are_shown_in_the_inline(admin_client, actor, network, kyc_partner):
    services.suspend_participant(participant=kyc_partner.participant, actor=actor)
    url = reverse("admin:participants_productnetwork_change", args=[network.pk])
    existing = list(network.memberships.current())
    rows = [{"id": str(m.pk), "participant": str(m.participant_id), "role": m.role} for m in existing]
    response = admin_client.post(
        url,
        {
            "name": network.name,
            "description": "",
            **inline(*rows, {"participant": str(kyc_partner.participant.pk)}, initial=len(rows)),
        },
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert network.memberships.current().count() == 2


def test_ending_a_membership_in_the_admin_keeps_history(admin_client, actor, network, kyc_partner):
    membership = services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    url = reverse("admin:participants_productnetwork_change", args=[network.pk])
    rows = [
        {"id": str(m.pk), "participant": str(m.participant_id), "role": m.role} for m in network.memberships.current()
    ]
    for row in rows:
        if row["id"] == str(membership.pk):
            row["DELETE"] = "on"
    assert (
        admin_client.post(
            url, {"name": network.name, "description": "", **inline(*rows, initial=len(rows))}
        ).status_code
        == 302
    )
    assert NetworkMembership.objects.get(pk=membership.pk).ended_at is not None
    assert AuditEvent.objects.filter(action="network.member_removed").count() == 1


def test_withdraw_action(admin_client, product):
    admin_client.post(
        reverse("admin:participants_product_changelist"), {"action": "withdraw", "_selected_action": [product.pk]}
    )
    assert Product.objects.get().is_withdrawn


def test_participant_pickers_offer_no_add_popup(admin_client, product):
    page = admin_client.get(NETWORK_ADD).content.decode()
    assert 'id="add_id_created_by"' not in page and 'id="add_id_product"' not in page
    assert 'id="add_id_lender"' not in admin_client.get(PRODUCT_ADD).content.decode()


def test_viewers_can_read_but_not_build(client, registry_viewer, network, product):
    client.force_login(registry_viewer)
    assert client.get(reverse("admin:participants_productnetwork_change", args=[network.pk])).status_code == 200
    assert client.get(PRODUCT_ADD).status_code == 403 and client.get(NETWORK_ADD).status_code == 403


def test_changelists_count_networks_current_members_and_participant_roles(admin_client, actor, network, kyc_partner):
    membership = services.add_network_member(network=network, participant=kyc_partner.participant, actor=actor)
    services.remove_network_member(membership=membership, actor=actor, reason="test")  # history, not a member
    cells = {
        "admin:participants_productnetwork_changelist": ("member_count", ["2"]),
        "admin:participants_product_changelist": ("network_count", ["1"]),
        "admin:participants_organisation_changelist": ("participant_count", ["1", "1", "1"]),  # one role each
    }
    for name, (column, counts) in cells.items():
        page = admin_client.get(reverse(name)).content.decode()
        assert re.findall(rf'<td class="[^"]*\bfield-{column}\b[^"]*"[^>]*>(.*?)</td>', page, re.S) == counts, name
