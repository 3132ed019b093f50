"""The compiled hot statements (authapi/compiled.py) answer exactly what their QuerySets answer through
the ORM, for every state the rule behind them distinguishes; and the rule agrees with itself."""

import datetime as dt
import hashlib
import itertools

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from authapi import compiled, signing
from authapi.models import SigningKey, SigningKeyStatus
from participants import services
from participants.models import OperationalStatus, Participant, ReviewStatus
from tests.keys import public_pem, rsa_key

STATES = list(itertools.product(ReviewStatus.values, [OperationalStatus.ACTIVE, OperationalStatus.SUSPENDED]))


@pytest.fixture
def participants(actor):
    """One participant in each review x operational state, and one offboarded tombstone."""
    made = {}
    for n, (review, status) in enumerate(STATES):
        credentials = services.onboard_participant(
            org_name=f"Org {n}",
            role="LENDER",
            base_url=f"https://p{n}.example.in",
            public_key=public_pem(rsa_key(f"compiled{n}")),
            actor=actor,
        )
        Participant.objects.filter(pk=credentials.participant.pk).update(review_status=review, status=status)
        made[(review, status)] = credentials
    gone = services.onboard_participant(
        org_name="Gone",
        role="LENDER",
        base_url="https://gone.example.in",
        public_key=public_pem(rsa_key("compiled-gone")),
        actor=actor,
    )
    services.offboard_participant(participant=gone.participant, actor=actor)
    made[("APPROVED", OperationalStatus.OFFBOARDED)] = gone
    for credentials in made.values():
        credentials.participant.refresh_from_db()
    return made


def test_the_rule_reads_the_same_as_a_queryset_and_on_a_row(participants):
    active = set(Participant.objects.active().values_list("pk", flat=True))
    for participant in Participant.objects.all():
        assert (participant.pk in active) is participant.can_authenticate
    assert [p.can_authenticate for p in Participant.objects.all()].count(True) == 1  # approved and active only


def test_the_client_lookup_matches_the_orm_for_every_state(participants):
    for (review, status), credentials in participants.items():
        client_id = credentials.participant.client_id
        orm = list(compiled.CLIENT.queryset(client_id=client_id))
        assert list(filter(None, [compiled.CLIENT.fetchone(client_id=client_id)])) == orm
        loaded = compiled.client_that_may_authenticate(client_id)
        assert (loaded is not None) is (review == "APPROVED" and status == "ACTIVE")
        if loaded is not None:
            assert loaded.participant.can_authenticate and loaded.client_id == client_id
    assert compiled.client_that_may_authenticate("no-such-client") is None
    assert compiled.client_that_may_authenticate("nul\x00byte") is None


def test_the_client_and_keys_lookup_matches_the_orm_for_every_state(participants, actor):
    approved = participants[("APPROVED", "ACTIVE")].participant
    services.add_participant_key(participant=approved, public_key=public_pem(rsa_key("compiled-2")), actor=actor)
    for (review, status), credentials in participants.items():
        client_id = credentials.participant.client_id
        for alg in ("RS256", "ES256"):
            orm = list(compiled.CLIENT_WITH_KEYS.queryset(client_id=client_id, alg=alg))
            assert compiled.CLIENT_WITH_KEYS.fetchall(client_id=client_id, alg=alg) == orm
            client, keys = compiled.client_with_keys(client_id, alg)
            may = review == "APPROVED" and status == "ACTIVE" and alg == "RS256"
            assert (client is not None) is may
            if may:
                assert client.client_id == client_id and client.participant.can_authenticate
                expected = credentials.participant.keys.filter(alg=alg).order_by("-created_at")
                assert [key.kid for key in keys] == [key.kid for key in expected]
                assert all(key.participant is client.participant for key in keys)
    assert len(compiled.client_with_keys(approved.client_id, "RS256")[1]) == 2
    assert compiled.client_with_keys("nul\x00byte", "RS256") == (None, [])


def test_the_bearer_check_matches_the_orm_for_every_state(participants):
    kid = signing.active_kid()
    for index, credentials in enumerate(participants.values()):
        application_id = credentials.participant.application_id
        if application_id is None:
            continue  # the tombstone holds no client, hence no token
        for expires in (timezone.now() + dt.timedelta(hours=1), timezone.now() - dt.timedelta(seconds=1)):
            raw = f"token-{index}-{expires.timestamp()}"
            checksum = hashlib.sha256(raw.encode()).hexdigest()
            AccessToken.objects.create(
                token="", token_checksum=checksum, application_id=application_id, expires=expires, scope="ocen"
            )
            for key, subject in itertools.product((kid, "no-such-kid", None), (credentials.participant.pk, None)):
                values = {"checksum": checksum, "kid": key, "subject": subject}
                assert compiled.CALLER.fetchone(**values) == compiled.CALLER.queryset(**values).first(), values
                caller = compiled.caller_for_token(raw, kid=key, subject_id=subject)
                usable = credentials.participant.can_authenticate and expires > timezone.now() and key == kid
                assert (caller is not None) is usable
                if caller is not None:
                    assert caller.active_kid == kid and (caller.subject_stamp is not None) is (subject is not None)


def test_a_retired_key_verifies_until_its_end_and_a_revoked_one_never(participants, actor):
    approved = participants[("APPROVED", "ACTIVE")]
    raw, old_kid = "issued-before-rotation", signing.active_kid()
    AccessToken.objects.create(
        token="",
        token_checksum=hashlib.sha256(raw.encode()).hexdigest(),
        scope="ocen",
        application_id=approved.participant.application_id,
        expires=timezone.now() + dt.timedelta(hours=1),
    )
    signing.rotate_signing_key(actor=actor, at_once=True)
    assert compiled.caller_for_token(raw, kid=old_kid).active_kid != old_kid  # retired: still verifies
    SigningKey.objects.filter(kid=old_kid).update(status=SigningKeyStatus.REVOKED, revoked_at=timezone.now())
    assert compiled.caller_for_token(raw, kid=old_kid) is None  # revoked, whatever its verify_until says
    assert SigningKey.objects.get(kid=old_kid).verify_until > timezone.now()


def test_the_change_stamp_matches_the_orm(participants):
    for credentials in participants.values():
        pk = credentials.participant.pk
        assert (compiled.participant_stamp(pk),) == compiled.STAMP.queryset(pk=pk).values_list("stamp").get()


def test_the_token_insert_writes_only_what_the_orm_says_may_be_written(participants):
    kid = signing.active_kid()
    for credentials in participants.values():
        client = credentials.participant.application
        if client is None:
            continue
        for secret, key in itertools.product((client.client_secret, "other-hash"), (kid, "retired-kid")):
            client.client_secret = secret
            may = (
                compiled._CLIENT_STILL_USABLE.queryset(pk=client.pk, secret=secret).exists()
                and compiled._KEY_STILL_ACTIVE.queryset(kid=key).exists()
            )
            written = compiled.insert_access_token(
                client=client,
                raw_token=f"{client.pk}-{secret}-{key}",
                kid=key,
                scope="ocen",
                expires=timezone.now(),
                resource=[],
            )
            assert written is may
        client.refresh_from_db()
    assert AccessToken.objects.count() == 1  # only the approved, active participant's, with its own secret


def test_the_private_compiler_api_the_statements_are_built_with_still_answers_as_relied_on(db):
    """compiled.py compiles through Django's SQLCompiler (`get_compiler`, `as_sql`, `select`, `col_count`,
    `get_converters`; no public API hands out a query's SQL with its converters) and attaches related rows with
    `Model.from_db`. This pins each: an upgrade of Django that changes them fails here by name, before the
    statements' answers drift from their QuerySets (the tests above)."""
    from django.db import connection

    queryset = compiled.CLIENT_WITH_KEYS.queryset(client_id="someone", alg="RS256")
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    assert sql.lstrip().upper().startswith("SELECT") and "someone" in params and "RS256" in params
    assert compiler.col_count == len(compiled.KEY_FIELDS) + len(compiled.CLIENT_FIELDS) + len(
        compiled.PARTICIPANT_FIELDS
    )
    assert all(len(entry) == 3 for entry in compiler.select[: compiler.col_count])  # (expression, sql, alias)
    converted = dict(compiler.get_converters([col for col, _sql, _alias in compiler.select[: compiler.col_count]]))
    jwk_column = compiled.KEY_FIELDS.index("jwk")
    assert jwk_column in converted  # the JSON key decoded as the ORM decodes it
    assert compiled._converted(
        tuple('{"kty": "RSA"}' if i == jwk_column else None for i in range(compiler.col_count)),
        compiled._converters_of(compiler),
        connection,
    )[jwk_column] == {"kty": "RSA"}
