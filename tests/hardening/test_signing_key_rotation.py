"""A rotation of the registry's signing key, run as the runbook says, refuses nothing anywhere (issue 31).

Production mode: gunicorn with two workers (DJANGO_DEBUG=0) on the test database, the registry's JWKS cacheable for
300 s. Three verifiers hold a copy of the JWKS made just before the rotation starts: the toolkit's Verifier, a
Verifier on a RegistryMirror that syncs every 30 s, and one that does what the OCEN reference client (Spring with
jose4j) does: it keeps the JWKS for its max-age and never fetches it before then, not even for a kid it does not
know. Time moves with time-machine (this process's clock: the toolkit's caches, and the second step of the
rotation, which this process runs); the servers' own clock is never waited for."""

import datetime as dt
import json
import re
import time
from io import StringIO

import jwt as pyjwt
import pytest
import requests
from django.core.management import call_command
from django.db import connection

from authapi.models import SigningKey, SigningKeyStatus
from ocen_sdk import RegistryClient, RegistryKeys, RegistryMirror, TokenClient, VerificationError, Verifier
from tests.ocen_sdk.conftest import onboard
from tests.servers import access_token, free_port, gunicorn, manage, production_env

MAX_AGE = 300  # OCEN_REGISTRY_MAX_AGE's default
POLL = 30  # the mirror's poll interval (the toolkit's default)
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class CachingVerifier:
    """The OCEN reference client's token check: the JWKS found by discovery from the issuer, kept for its
    Cache-Control max-age, never fetched again before then; RS256, iss, aud and times checked by PyJWT."""

    def __init__(self, issuer: str):
        self.issuer, self.jwks, self.until, self.fetches = issuer, None, 0.0, 0

    def verify(self, token: str) -> dict:
        now = time.time()
        if self.jwks is None or now >= self.until:
            jwks_uri = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()["jwks_uri"]
            answer = requests.get(jwks_uri, timeout=10)
            self.jwks, self.fetches = answer.json(), self.fetches + 1
            self.until = now + int(re.search(r"max-age=(\d+)", answer.headers["Cache-Control"])[1])
        kid = pyjwt.get_unverified_header(token)["kid"]
        key = next((key for key in self.jwks["keys"] if key["kid"] == kid), None)
        if key is None:
            raise LookupError(f"unknown kid {kid}")
        return pyjwt.decode(token, pyjwt.PyJWK(key).key, algorithms=["RS256"], audience="ocen", issuer=self.issuer)


def kid_of(token: str) -> str:
    return pyjwt.get_unverified_header(token)["kid"]


def test_a_rotation_run_as_the_runbook_says_refuses_no_token_and_fails_no_sync(
    transactional_db, settings, actor, time_machine, tmp_path
):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/auth"
    env = production_env(connection.settings_dict, OCEN_ISSUER=issuer, OCEN_REGISTRY_MAX_AGE=MAX_AGE)
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [env["OCEN_SIGNING_KEY_ENCRYPTION_KEYS"]]
    settings.OCEN_REGISTRY_MAX_AGE, settings.OCEN_ISSUER = MAX_AGE, issuer
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "drill-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "drill-lender")
    time_machine.move_to(dt.datetime.now(dt.UTC), tick=True)

    with gunicorn(env, workers=2, port=port) as base:

        def registry_client() -> RegistryClient:
            tokens = TokenClient(f"{issuer}/token", lender.participant.client_id, lender.client_secret)
            keys = RegistryKeys(issuer, clock=time.time)
            return RegistryClient(f"{base}/service", tokens, keys=keys, clock=time.time)

        verifier = Verifier(issuer, registry_client())
        mirror = RegistryMirror(tmp_path / "mirror.sqlite3", registry_client(), poll_interval=POLL)
        on_mirror = Verifier(issuer, mirror)
        reference = CachingVerifier(issuer)
        refusals, tokens = [], []

        def call_everyone(moment: str) -> None:
            """A new token, and every token issued so far, checked by the three verifiers."""
            tokens.append(access_token(base, agent))
            for token in tokens:
                for name, check in (
                    ("Verifier", verifier.verify_token),
                    ("Verifier on a mirror", on_mirror.verify_token),
                    ("reference client", reference.verify),
                ):
                    try:
                        check(f"Bearer {token}" if name != "reference client" else token)
                    except (VerificationError, LookupError, pyjwt.PyJWTError) as refused:
                        refusals.append((moment, name, kid_of(token), str(refused)))

        mirror.sync()
        call_everyone("before the rotation")  # every copy of the JWKS is made now, just before the first step
        first = manage(env, "rotate_signing_key")
        assert first.returncode == 0, first.stderr
        call_everyone("just after the first step")
        assert refusals == []

        published = json.loads(first.stdout)
        assert published["switched"] is False and published["kid"] == kid_of(tokens[0])
        upcoming = SigningKey.objects.get(kid=published["nextKid"])
        assert upcoming.status == SigningKeyStatus.NEXT
        assert published["nextSignsFrom"] == (upcoming.created_at + dt.timedelta(seconds=MAX_AGE)).isoformat(
            timespec="milliseconds"
        ).replace("+00:00", "Z")

        for step in range(1, MAX_AGE // POLL + 2):  # the mirror syncs, and calls come, every 30 s
            time_machine.shift(POLL)
            mirror.sync()
            call_everyone(f"{step * POLL} s after the first step")
            if step == 5:  # the second step, too early: it changes nothing
                early = StringIO()
                call_command("rotate_signing_key", stdout=early)
                assert json.loads(early.getvalue())["switched"] is False
                assert SigningKey.objects.get(kid=published["nextKid"]).status == SigningKeyStatus.NEXT

        second = StringIO()
        call_command("rotate_signing_key", stdout=second)  # OCEN_REGISTRY_MAX_AGE after the first step
        switched = json.loads(second.getvalue())
        assert switched["switched"] is True and switched["kid"] == published["nextKid"]
        assert switched["retiredKid"] == published["kid"]
        call_everyone("just after the switch")  # before the mirror's next sync
        assert kid_of(tokens[-1]) == published["nextKid"]
        time_machine.shift(POLL)
        mirror.sync()  # its answers now signed by the new key: it takes the snapshot again, and fails nothing
        call_everyone("after the mirror's next sync")

    assert refusals == []
    assert mirror.last_error is None
    assert reference.fetches == 2  # its copy from before the rotation, and the one after its max-age


def test_a_rotation_at_once_switches_on_the_next_request(transactional_db, settings, actor):
    """After a suspected compromise the operator does not wait: --now makes a new key sign at once (verifiers
    holding an older copy of the JWKS meet its kid; the toolkit fetches the JWKS again at once)."""
    port = free_port()
    env = production_env(connection.settings_dict, OCEN_ISSUER=f"http://127.0.0.1:{port}/auth")
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [env["OCEN_SIGNING_KEY_ENCRYPTION_KEYS"]]
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "drill-agent")
    with gunicorn(env, workers=2, port=port) as base:
        old = kid_of(access_token(base, agent))
        rotated = manage(env, "rotate_signing_key", "--now")
        assert rotated.returncode == 0, rotated.stderr
        switched = json.loads(rotated.stdout)
        assert switched["switched"] is True and switched["retiredKid"] == old and switched["nextKid"] is None
        assert {kid_of(access_token(base, agent)) for _ in range(4)} == {switched["kid"]}
        published = {key["kid"] for key in requests.get(f"{base}/auth/certs", timeout=10).json()["keys"]}
        assert published == {old, switched["kid"]}  # the old key verifies its tokens until they expire
