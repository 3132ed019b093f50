"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis), in process.

Every operation gets generated requests, valid and invalid, with a valid participant's bearer token:
no 5xx, and every response conforms to the document (status code, content type, headers, body schema).
Bounded (FUZZ_EXAMPLES per operation) to fit CI. How strictly each input is accepted or refused is
specified by the hand-written corpus in test_nasty_inputs.py, not here.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ocen_registry.wsgi import application
from tests.authapi.conftest import get_token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def bearer_token(client, lender, loan_agent, network):
    return get_token(client, loan_agent)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # autocommit per request, as in production
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_and_never_fails(case, bearer_token):
    case.call_and_validate(
        # identity: the in-process WSGI transport hands over bodies as sent, and would not undo the snapshot's gzip
        headers={"Authorization": f"Bearer {bearer_token}", "Accept-Encoding": "identity"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
