import functools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from participants import services
from participants.models import Role
from tests.keys import public_pem, rsa_key

STAFF_PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test's database starts empty; so must the process caches (parsed signing keys, renderings,
    counters in the cache)."""
    from django.core.cache import cache

    from authapi.memory import memory

    memory.reset()
    cache.clear()
    yield
    memory.reset()
    cache.clear()


@functools.cache
def staff_password_hash() -> str:
    """The production (PBKDF2) hash of the test password, computed once per session."""
    return make_password(STAFF_PASSWORD)


def make_staff(username: str, group: str | None, **extra):
    user = get_user_model().objects.create(username=username, password=staff_password_hash(), is_staff=True, **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def registry_admin(db):
    return make_staff("asha", "Registry administrators")


@pytest.fixture
def second_admin(db):
    return make_staff("vikram", "Registry administrators")


@pytest.fixture
def registry_viewer(db):
    return make_staff("meera", "Registry viewers")


@pytest.fixture
def actor(registry_admin):
    return services.Actor.for_user(registry_admin)


@pytest.fixture
def lender(actor):
    """An onboarded, approved lender; `.client_secret` is its one-time secret."""
    return services.onboard_participant(
        org_name="Bharat Lending Bank",
        role=Role.LENDER,
        base_url="https://lender.example.in/ocen",
        public_key=public_pem(rsa_key("lender")),
        actor=actor,
    )


@pytest.fixture
def loan_agent(actor):
    return services.onboard_participant(
        org_name="Udyam Loan Agent",
        role=Role.LOAN_AGENT,
        base_url="https://agent.example.in/ocen",
        public_key=public_pem(rsa_key("loan_agent")),
        actor=actor,
    )


@pytest.fixture
def kyc_partner(actor):
    return services.onboard_participant(
        org_name="Aadhaar KYC Services",
        role=Role.KYC_PARTNER,
        base_url="https://kyc.example.in/ocen",
        public_key=public_pem(rsa_key("kyc")),
        actor=actor,
    )


@pytest.fixture
def product(actor, lender):
    return services.create_product(
        lender=lender.participant, actor=actor, name="Working Capital 90", is_aa_flow_required=True
    )


@pytest.fixture
def network(actor, product, loan_agent):
    """A loan agent's network for the lender's product (the loan agent and lender join at creation)."""
    return services.create_network(
        product=product, loan_agent=loan_agent.participant, name="MSME Credit Line", actor=actor
    )
