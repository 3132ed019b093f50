"""The toolkit's verify() and diagnose() on any input whatsoever: a VerificationError or a Diagnosis,
never another exception (hypothesis generates the inputs)."""

import base64
import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocen_sdk import VerificationError, diagnose, verify

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
HEADER_VALUES = JSON | st.sampled_from(["RS256", "ES256", "HS256", "none", "b64", False, True, ["b64"]])
HEADERS = st.dictionaries(st.sampled_from(["alg", "kid", "b64", "crit", "typ", "x"]), HEADER_VALUES, max_size=5) | JSON
KEYS = (
    st.lists(
        st.dictionaries(
            st.sampled_from(["kty", "n", "e", "kid", "status", "validFrom", "validUntil", "crv", "x"]),
            JSON | st.sampled_from(["RSA", "EC", "AQAB", "REVOKED", "RETIRED", "2026-01-01T00:00:00Z"]),
            max_size=9,
        ),
        max_size=3,
    )
    | JSON
)


def compact(header) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{encoded}..c2lnbmF0dXJl"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=HEADERS, keys=KEYS, body=st.binary(max_size=64) | JSON)
def test_verify_raises_only_verification_errors(header, keys, body):
    with contextlib.suppress(VerificationError):
        verify(body, compact(header), keys)
    assert diagnose(body, compact(header), keys).verified is None


@settings(max_examples=200, deadline=None)
@given(signature=JSON | st.text(max_size=80) | st.binary(max_size=40), keys=KEYS)
def test_diagnose_accepts_any_signature_value(signature, keys):
    assert diagnose(b"{}", signature, keys).reason is not None


def test_deeply_nested_headers_and_keys_are_refused_plainly():
    deep = "[" * 5000 + "]" * 5000
    encoded = base64.urlsafe_b64encode(deep.encode()).rstrip(b"=").decode()
    assert diagnose(b"{}", f"{encoded}..c2ln", []).reason == "malformed_signature"
    assert diagnose(b"{}", compact({"alg": "RS256"}), deep).reason == "unknown_kid"
