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
