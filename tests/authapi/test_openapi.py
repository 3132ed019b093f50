"""The OpenAPI document (contract §5.3): valid, complete, and in agreement with live responses."""

import json

import pytest
from django.urls import reverse
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_spec_validator import validate

from participants import services
from tests.authapi.conftest import basic, bearer, post_form
from tests.keys import public_pem, rsa_key


@pytest.fixture
def document(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_document_is_valid_openapi_3(document):
    validate(document)
    assert document["openapi"].startswith("3.")


def test_document_covers_every_endpoint(document):
    assert set(document["paths"]) >= {
        "/auth/token",
        "/auth/certs",
        "/auth/introspect",
        "/auth/revoke",
        "/auth/.well-known/openid-configuration",
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server/auth",
        "/service/participant-roles",
        "/service/participant-roles/{participant_id}",
        "/service/participant-roles/{participant_id}/jwks",
        "/service/products/{product_id}",
        "/service/product-networks/{network_id}",
        "/service/product-networks/{network_id}/participants",
        "/service/changes",
        "/service/snapshot",
    }
    token = document["paths"]["/auth/token"]["post"]
    assert token["operationId"] == "GenerateAccessToken"
    assert set(token["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}
    assert (
        document["paths"]["/service/participant-roles/{participant_id}"]["get"]["operationId"]
        == "GetParticipantDetails"
    )


def live_exchanges(client, lender, loan_agent, network) -> list:
    """One answer of every operation a participant calls, errors among them, as the registry sends them."""
    token_response = post_form(
        client,
        "/auth/token",
        {"client_id": loan_agent.participant.client_id, "client_secret": loan_agent.client_secret},
    )
    token = token_response.json()["access_token"]
    pid = lender.participant.id
    details = client.get(f"/service/participant-roles/{pid}", **bearer(token))
    return [
        token_response,
        post_form(client, "/auth/token", {"client_id": "nobody", "client_secret": "x"}),
        post_form(client, "/auth/token", {"grant_type": "password"}),
        client.get("/auth/certs"),
        client.get("/.well-known/jwks.json"),
        client.get("/auth/.well-known/openid-configuration"),
        client.get("/.well-known/oauth-authorization-server/auth"),
        post_form(
            client,
            "/auth/introspect",
            {"token": token},
            HTTP_AUTHORIZATION=basic(lender.participant.client_id, lender.client_secret),
        ),
        details,
        client.get(f"/service/participant-roles/{pid}", HTTP_IF_NONE_MATCH=details["ETag"], **bearer(token)),
        client.get("/service/participant-roles/8b7d8a52-8c1e-4e59-9d55-2a3c9e1f0a11", **bearer(token)),
        client.get(f"/service/participant-roles/{pid}"),
        client.get(f"/service/participant-roles/{pid}/jwks", **bearer(token)),
        client.get("/service/participant-roles", {"size": 1}, **bearer(token)),
        client.get("/service/participant-roles", {"size": 0}, **bearer(token)),
        client.get(f"/service/products/{network.product_id}", **bearer(token)),
        client.get(f"/service/product-networks/{network.id}", **bearer(token)),
        client.get(f"/service/product-networks/{network.id}/participants", **bearer(token)),
        client.get("/service/product-networks/nope/participants", **bearer(token)),
        client.get("/service/changes", {"after": 0}, **bearer(token)),
        client.get("/service/changes", {"limit": 0}, **bearer(token)),
        client.get("/service/snapshot", **bearer(token)),
    ]


def test_live_responses_match_the_document(client, document, actor, lender, loan_agent, network):
    services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("l2")), actor=actor)
    openapi = OpenAPI.from_dict(document)
    for response in live_exchanges(client, lender, loan_agent, network):
        if response.streaming:
            continue  # the snapshot: its body is checked by tests/authapi/test_changes.py
        openapi.validate_response(DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response))


def test_a_response_that_disagrees_with_the_document_is_caught(client, document, lender, loan_agent):
    """Guard for the test above: the validator does reject a body that breaks the declared shape."""
    from openapi_core.validation.response.exceptions import InvalidData

    token = post_form(
        client,
        "/auth/token",
        {"client_id": loan_agent.participant.client_id, "client_secret": loan_agent.client_secret},
    ).json()["access_token"]
    response = client.get(f"/service/participant-roles/{lender.participant.id}", **bearer(token))
    body = response.json()
    body["isApproved"] = "yes"
    response.content = json.dumps(body).encode()
    with pytest.raises(InvalidData):
        OpenAPI.from_dict(document).validate_response(
            DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response)
        )


def test_docs_page_works_offline(client, db):
    page = client.get(reverse("docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "https://" not in html.replace("https://swagger.io", "")
    asset = next(part.split('"')[0] for part in html.split('src="')[1:] if "sidecar" in part)
    assert client.get(asset).status_code == 200


def test_under_the_reference_spelling_the_document_names_roles_as_the_answers_do(
    client, settings, actor, lender, loan_agent, network
):
    settings.OCEN_ROLE_SPELLING = "reference"
    partner = services.onboard_participant(
        org_name="Insight Data",
        role="DERIVED_DATA_PARTNER",
        base_url="https://insight.example.in",
        public_key=public_pem(rsa_key("insight")),
        actor=actor,
    ).participant
    services.add_network_member(network=network, participant=partner, actor=actor)
    document = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    token = post_form(
        client,
        "/auth/token",
        {"client_id": loan_agent.participant.client_id, "client_secret": loan_agent.client_secret},
    ).json()["access_token"]
    listing = client.get(f"/service/product-networks/{network.id}/participants", **bearer(token))
    assert set(listing.json()) == set(document["components"]["schemas"]["NetworkParticipants"]["required"])
    assert "DERIVED_DATA_PROVIDER" in listing.json() and "ADMIN" not in listing.json()
    openapi = OpenAPI.from_dict(document)
    for response in (listing, client.get(f"/service/participant-roles/{partner.id}", **bearer(token))):
        openapi.validate_response(DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response))
    role_parameter = next(
        p for p in document["paths"]["/service/participant-roles"]["get"]["parameters"] if p["name"] == "role"
    )
    assert "DERIVED_DATA_PROVIDER" in role_parameter["schema"]["enum"]


WATCHED_HEADERS = {"etag", "cache-control", "x-jws-signature", "www-authenticate", "retry-after"}


def documented_headers(document: dict, response) -> set[str]:
    """The headers the document declares for this response: its operation (path template and method) and status."""
    import re

    path, method = response.wsgi_request.path, response.wsgi_request.method.lower()
    for template, item in document["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path) and method in item:
            responses = item[method]["responses"]
            declared = responses.get(str(response.status_code), responses.get("default", {}))
            return {name.lower() for name in declared.get("headers", {})}
    raise AssertionError(f"{method.upper()} {path} is not in the document")


def test_every_header_a_live_response_carries_is_in_the_document(client, document, actor, lender, loan_agent, network):
    """ETag, Cache-Control, x-jws-signature, WWW-Authenticate and Retry-After, as sent, are declared for their
    operation and status (and the check can fail: a document without them is refused)."""
    exchanges = live_exchanges(client, lender, loan_agent, network)
    details = next(
        r for r in exchanges if r.status_code == 200 and r.wsgi_request.path.endswith(str(lender.participant.id))
    )
    undeclared = {
        f"{r.wsgi_request.method} {r.wsgi_request.path} {r.status_code}: {sorted(missing)}"
        for r in exchanges
        if (missing := ({h.lower() for h in r.headers} & WATCHED_HEADERS) - documented_headers(document, r))
    }
    assert undeclared == set()
    stripped = json.loads(json.dumps(document))
    for item in stripped["paths"].values():
        for operation in item.values():
            for declared in operation.get("responses", {}).values():
                declared.pop("headers", None)
    assert documented_headers(stripped, details) == set()  # the same check against a bare document fails


def test_the_webhook_event_and_every_discovery_member_are_in_the_document(client, document):
    create = document["paths"]["/service/subscriptions"]["post"]
    [callback] = create["callbacks"].values()
    [operation] = [item["post"] for item in callback.values()]
    event = operation["requestBody"]["content"]["application/json"]["schema"]
    event = document["components"]["schemas"][event["$ref"].rsplit("/", 1)[1]]
    assert {"id", "type", "seq", "kind", "objectId", "occurredAt", "subscriptionId", "record"} <= set(
        event["properties"]
    )
    assert {"x-jws-signature", "x-ocen-event-id", "x-ocen-event-type"} <= {
        p["name"].lower() for p in operation["parameters"] if p["in"] == "header"
    }
    sent = client.get("/auth/.well-known/openid-configuration").json()
    discovery = document["components"]["schemas"]["Discovery"]["properties"]
    assert set(sent) <= set(discovery)
    errors = document["components"]["schemas"]["OAuthError"]["properties"]["error"]
    assert "invalid_scope" in json.dumps(errors) or "invalid_scope" in json.dumps(document["components"]["schemas"])
