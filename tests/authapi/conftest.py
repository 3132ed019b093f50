import base64
from urllib.parse import urlencode

import pytest
from django.test import Client

TOKEN_URL = "/auth/token"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


FORM = "application/x-www-form-urlencoded"


def post_form(client: Client, url: str, data: dict, **extra):
    """POST application/x-www-form-urlencoded, as OAuth clients (and the OCEN reference client) do."""
    return client.post(url, urlencode(data), content_type=FORM, **extra)


def get_token(client: Client, credentials) -> str:
    """A token through the real endpoint, form-encoded the way the OCEN reference client sends it."""
    response = post_form(
        client,
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": credentials.participant.client_id,
            "client_secret": credentials.client_secret,
        },
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def lender_token(client, lender):
    return get_token(client, lender)


@pytest.fixture
def agent_token(client, loan_agent):
    return get_token(client, loan_agent)


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
