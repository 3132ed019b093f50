"""A registry mirror file is not trusted on disk (issue 31): what it answers must be what the registry signed, and the
registry's keys it checks them with come from the issuer (or keys its caller pinned), never from the file alone."""

import json
import sqlite3

import jwt as pyjwt
import pytest
from jwcrypto import jwk

from ocen_sdk import (
    PinnedKeys,
    RegistryClient,
    RegistryError,
    RegistryKeys,
    RegistryMirror,
    TokenClient,
    VerificationError,
    Verifier,
    sign,
)
from participants import services
from tests.keys import public_pem, rsa_key
from tests.ocen_sdk.conftest import onboard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def parties(registry, actor):
    """(the mirror's caller, a lender, the lender's key id)."""
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "trusted-agent")
    lender, lender_kid = onboard(actor, "Bharat Lending Bank", "LENDER", "trusted-lender")
    return agent, lender, lender_kid


@pytest.fixture
def synced(registry, parties, tmp_path):
    """open() → a RegistryMirror on tmp_path/mirror.sqlite3, synced once, with its own registry client (and keys)."""
    agent = parties[0]
    opened = []

    def open_mirror() -> RegistryMirror:
        tokens = TokenClient(f"{registry['issuer']}/token", agent.participant.client_id, agent.client_secret)
        client = RegistryClient(registry["service"], tokens, keys=RegistryKeys(registry["issuer"]))
        opened.append(RegistryMirror(tmp_path / "mirror.sqlite3", client))
        return opened[-1]

    open_mirror().sync()
    yield open_mirror
    for mirror in opened:
        mirror.close()


def tamper(path, statement: str, *params) -> None:
    """Change the file as anyone who can write it could, behind the mirror's back."""
    with sqlite3.connect(path) as db:
        assert db.execute(statement, params).rowcount >= 1


def impostor_jwks(kid: str) -> dict:
    public = jwk.JWK.from_pem(public_pem(rsa_key("impostor"))).export_public(as_dict=True)
    return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}


def stored(path, statement: str, *params):
    """What the file holds, read directly."""
    with sqlite3.connect(path) as db:
        return db.execute(statement, params).fetchone()


def test_registry_keys_replaced_in_the_file_verify_nothing(registry, parties, synced, tmp_path):
    agent, _lender, _kid = parties
    path = tmp_path / "mirror.sqlite3"
    mirror = synced()
    genuine = mirror.client.token_client.token()
    registry_kid = json.loads(stored(path, "SELECT value FROM meta WHERE name = 'registry_jwks'")[0])["keys"][0]["kid"]
    mirror.close()
    # Someone replaces the registry's keys in the file with their own, under the registry's kid and another.
    forged_jwks = {"keys": [*impostor_jwks(registry_kid)["keys"], *impostor_jwks("impostor")["keys"]]}
    tamper(path, "UPDATE meta SET value = ? WHERE name = 'registry_jwks'", json.dumps(forged_jwks))

    reopened = synced()
    verifier = Verifier(registry["issuer"], reopened)
    claims = pyjwt.decode(genuine, options={"verify_signature": False})
    for kid in (registry_kid, "impostor"):
        forged = pyjwt.encode(claims, rsa_key("impostor"), algorithm="RS256", headers={"kid": kid})
        with pytest.raises(VerificationError) as refused:
            verifier.verify_token(f"Bearer {forged}")
        # Refused either way: an impostor's kid is not published, and the registry's own key under its kid does not
        # verify the impostor's signature (the file's copy of the keys adds none).
        assert refused.value.reason in ("unknown_kid", "token_invalid"), kid
    reopened.sync()  # the next sync stores the registry's keys again
    assert verifier.verify_token(f"Bearer {genuine}")["participantId"] == str(agent.participant.id)


def test_a_record_altered_in_the_file_is_refused_not_believed(registry, parties, synced, tmp_path):
    agent, lender, lender_kid = parties
    lender_id, path = str(lender.participant.id), tmp_path / "mirror.sqlite3"
    synced().close()
    # Someone puts their own key in the lender's record, to sign as the lender.
    record = json.loads(stored(path, "SELECT body FROM record WHERE kind = 'participant' AND id = ?", lender_id)[0])
    record["publicKeys"]["keys"] = [{**record["publicKeys"]["keys"][0], **impostor_jwks(lender_kid)["keys"][0]}]
    tamper(path, "UPDATE record SET body = ? WHERE kind = 'participant' AND id = ?", json.dumps(record), lender_id)

    mirror = synced()
    verifier = Verifier(registry["issuer"], mirror)
    lender_token = TokenClient(
        f"{registry['issuer']}/token", lender.participant.client_id, lender.client_secret
    ).token()
    body = b'{"claim": "signed by whoever holds the impostor key"}'
    call = {"Authorization": f"Bearer {lender_token}", "x-jws-signature": sign(body, rsa_key("impostor"), lender_kid)}
    with pytest.raises(VerificationError) as refused:
        verifier.verify_request(call, body)
    assert refused.value.reason == "registry_unavailable"  # an outage, not a verdict on the lender
    with pytest.raises(RegistryError, match="altered"):
        mirror.participant(lender_id)
    with pytest.raises(RegistryError, match="altered"):
        mirror.check()
    # The agent's own record is untouched and still answered.
    assert mirror.participant(str(agent.participant.id))["id"] == str(agent.participant.id)


def test_a_stored_answer_altered_in_the_file_is_refused(registry, parties, synced, tmp_path, actor):
    _agent, lender, _ = parties
    lender_id, path = str(lender.participant.id), tmp_path / "mirror.sqlite3"
    services.update_participant(participant=lender.participant, actor=actor, base_url="https://new.lender.in")
    mirror = synced()
    mirror.sync()  # the change comes as a feed page, kept as the registry signed it
    assert mirror.participant(lender_id)["baseUrl"] == "https://new.lender.in"
    mirror.close()
    [(source, body)] = sqlite3.connect(path).execute(
        "SELECT source.id, source.body FROM source JOIN record ON record.source = source.id WHERE record.id = ?",
        (lender_id,),
    )
    altered = bytes(body).replace(b"https://new.lender.in", b"https://evil.example.")
    tamper(path, "UPDATE source SET body = ? WHERE id = ?", altered, source)
    tamper(path, "UPDATE record SET body = replace(body, 'https://new.lender.in', 'https://evil.example.')")

    with pytest.raises(RegistryError, match="does not verify"):
        synced().participant(lender_id)


def test_a_mirror_read_alone_checks_the_file_with_keys_from_the_issuer_or_pinned(registry, parties, synced, tmp_path):
    _agent, lender, _ = parties
    path, lender_id = tmp_path / "mirror.sqlite3", str(lender.participant.id)
    expected = synced().participant(lender_id)
    with pytest.raises(ValueError, match="keys"):
        RegistryMirror(path)  # the file alone is not trusted
    from_issuer = RegistryMirror(path, keys=RegistryKeys(registry["issuer"]))
    assert from_issuer.participant(lender_id) == expected
    from_issuer.check()
    pinned = RegistryMirror(path, keys=PinnedKeys(RegistryKeys(registry["issuer"]).jwks()))
    assert pinned.participant(lender_id) == expected
    elsewhere = RegistryMirror(path, keys=PinnedKeys(impostor_jwks("impostor")))
    with pytest.raises(RegistryError, match="does not verify"):
        elsewhere.participant(lender_id)  # keys that did not sign it
    for mirror in (from_issuer, pinned, elsewhere):
        mirror.close()


def test_a_file_of_the_earlier_format_is_synced_again_never_believed(registry, parties, synced, tmp_path):
    """A file made before answers were kept signed cannot be checked: read alone it is refused; a mirror that syncs
    it empties it and takes the snapshot again."""
    _agent, lender, _ = parties
    path, lender_id = tmp_path / "mirror.sqlite3", str(lender.participant.id)
    synced().close()
    with sqlite3.connect(path) as db:  # the earlier format: records without the answer they came from
        db.execute("DROP TABLE source")
        db.execute("DROP INDEX record_source")
        db.execute("ALTER TABLE record DROP COLUMN source")
    with pytest.raises(RegistryError, match="earlier ocen_sdk"):
        RegistryMirror(path, keys=RegistryKeys(registry["issuer"]))
    mirror = synced()
    assert mirror.seq is None  # emptied
    mirror.sync()
    assert mirror.participant(lender_id)["id"] == lender_id
