"""Security headers on API and admin responses; secrets never cacheable."""

from tests.authapi.conftest import agent_token, bearer, post_form  # noqa: F401 — agent_token is a fixture


def test_api_responses_carry_security_headers(client, lender, agent_token):  # noqa: F811 — the fixture
    token_response = post_form(
        client, "/auth/token", {"client_id": lender.participant.client_id, "client_secret": lender.client_secret}
    )
    for response in (
        token_response,
        client.get(f"/service/participant-roles/{lender.participant.id}", **bearer(agent_token)),
        client.get("/auth/certs"),
        client.get("/healthz"),
        client.get("/admin/login/"),
    ):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert token_response["Cache-Control"] == "no-store" and token_response["Pragma"] == "no-cache"


def console_policy(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def test_console_pages_send_a_content_security_policy_that_needs_a_nonce_for_inline_scripts(client, registry_admin):
    first, second = client.get("/admin/login/"), client.get("/admin/login/")
    policy = console_policy(first)
    scripts = policy.get("script-src", [])
    assert "'self'" in scripts and "'unsafe-inline'" not in scripts and "'unsafe-inline'" not in policy["default-src"]
    [nonce] = [value for value in scripts if value.startswith("'nonce-")]
    assert len(nonce) >= 24 and nonce not in console_policy(second)["script-src"]  # one per response
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"]
    client.force_login(registry_admin)
    assert console_policy(client.get("/admin/participants/participant/"))["script-src"][0] == "'self'"
