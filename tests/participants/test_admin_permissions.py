"""Every admin page and action declares who may use it: a walk over every registered ModelAdmin and every
custom admin view, as a registry viewer (GET and forged POST: nothing changes) and as an administrator."""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.serializers import serialize
from django.test import RequestFactory
from django.urls import URLPattern, reverse

from authapi import signing
from participants import services
from participants.admin.operations import OPERATIONS, ConfirmedOperations
from participants.models import OperatorSession
from tests.keys import public_pem, rsa_key

# The registry's own apps, django-oauth-toolkit's and Django's auth: what a viewer must not be able to change.
WATCHED_APPS = ("participants", "authapi", "oauth2_provider", "auth")


def database_state() -> str:
    """Every row of the watched apps, but the sessions' own bookkeeping (who is signed in, last seen when)."""
    models = [model for app in WATCHED_APPS for model in apps.get_app_config(app).get_models()]
    rows = [model.objects.all() for model in models if model is not OperatorSession]
    return "".join(serialize("json", queryset.order_by("pk")) for queryset in rows)


@pytest.fixture
def one_of_everything(actor, lender, loan_agent, kyc_partner, network):
    """A registry holding one of each record an admin page shows, and a second key on the lender."""
    services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("second")), actor=actor)
    signing.active_kid()  # the signing key
    return {"participant": lender.participant, "network": network}


def registered_admins():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()]


def some_object_pk(model) -> str | None:
    obj = model._default_manager.order_by("pk").first()
    return str(obj.pk) if obj is not None else None


def custom_urls(model_admin, pk):
    """Each custom view of a ModelAdmin (its own get_urls() entries), filled in with `pk`."""
    standard = {"changelist", "add", "history", "delete", "change", "autocomplete"}
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern) or pattern.name is None:
            continue
        if pattern.name.rsplit("_", 1)[-1] in standard or pattern.name.endswith(("_add", "_changelist")):
            continue
        route = str(pattern.pattern)
        operations = OPERATIONS if isinstance(model_admin, ConfirmedOperations) else {"x": None}
        for operation in operations if "<str:operation>" in route else [None]:
            path = re.sub(r"<path:object_id>", pk or "0", route).replace("<str:operation>", operation or "")
            yield f"/admin/{model_admin.opts.app_label}/{model_admin.opts.model_name}/{path}"


def test_every_action_declares_its_permission():
    for model, model_admin in registered_admins():
        for name in model_admin.actions or []:
            action = getattr(model_admin, name)
            assert getattr(action, "allowed_permissions", None), f"{model.__name__}.{name} declares no permission"


def test_a_viewer_can_reach_pages_but_change_nothing_anywhere(client, registry_viewer, one_of_everything):
    client.force_login(registry_viewer)
    before = database_state()
    forged = {
        "confirmed": "yes",
        "reason": "forged",
        "ids": [],
        "base_url": "https://evil.example",
        "name": "Evil",
        "post": "yes",
        "public_key": public_pem(rsa_key("evil")).decode(),
    }
    for model, model_admin in registered_admins():
        opts = model._meta
        pk = some_object_pk(model)
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(changelist).status_code in (200, 403), changelist
        assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 403
        assert client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), forged).status_code == 403
        actions = {*(model_admin.actions or []), "delete_selected"}
        for action in actions:
            client.post(changelist, {**forged, "action": action, ACTION_CHECKBOX_NAME: [pk] if pk else []})
        if pk:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
            assert client.get(change).status_code in (200, 403), change
            assert client.post(change, forged).status_code == 403, change
            delete = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[pk])
            assert client.post(delete, {"post": "yes"}).status_code == 403, delete
        for url in custom_urls(model_admin, pk):
            assert client.get(url).status_code in (200, 302, 403), url
            client.post(url, {**forged, "ids": [pk] if pk else []})
    assert database_state() == before


def test_viewers_are_offered_no_action_and_administrators_every_one(registry_viewer, registry_admin, one_of_everything):
    for model, model_admin in registered_admins():
        if model._meta.app_label != "participants":
            continue
        declared = set(model_admin.actions or [])
        for user, expected in ((registry_viewer, set()), (registry_admin, declared)):
            request = RequestFactory().get("/admin/")
            request.user = user
            assert set(model_admin.get_actions(request)) == expected, (model.__name__, user.username)
