"""Management commands (contract §3): the same services, JSON out, one-line errors, non-zero exit."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from oauth2_provider.models import AccessToken

from participants.models import AuditEvent, KeyStatus, OperationalStatus, Participant
from tests.dot import dot_token_request
from tests.keys import private_pem, public_pem, reference_public_jwk, rsa_key

ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def onboarding(public_key, *, org_name="Bharat Lending Bank", base_url="https://lender.example.in/ocen") -> list:
    """The onboard_participant command line for a LENDER with this key file."""
    return [
        "onboard_participant",
        "--org-name",
        org_name,
        "--role",
        "LENDER",
        "--base-url",
        base_url,
        "--public-key",
        str(public_key),
    ]


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "lender.pem"
    path.write_bytes(public_pem(rsa_key("lender")))
    return path


def test_onboard_prints_credentials_that_work(db, key_file):
    output = run(*onboarding(key_file))
    assert set(output) == {"participantId", "orgId", "clientId", "clientSecret", "clientAuthentication"}
    participant = Participant.objects.get(pk=output["participantId"])
    assert str(participant.organisation_id) == output["orgId"] and participant.can_authenticate
    assert dot_token_request(output["clientId"], output["clientSecret"])[0] == 200
    assert AuditEvent.objects.get(action="participant.onboarded").actor.startswith("cli:")


def test_the_full_lifecycle_from_the_command_line(db, key_file, tmp_path):
    created = run(*onboarding(key_file))
    pid = created["participantId"]
    jwk_file = tmp_path / "agent.jwk.json"
    jwk_file.write_text(json.dumps(reference_public_jwk()))
    assert run("add_participant_key", pid, "--public-key", str(jwk_file))["status"] == KeyStatus.ACTIVE
    assert run("suspend_participant", pid, "--reason", "audit")["status"] == OperationalStatus.SUSPENDED
    assert run("reinstate_participant", pid)["status"] == OperationalStatus.ACTIVE
    rotated = run("rotate_client_secret", pid)
    assert rotated["clientSecret"] != created["clientSecret"]
    assert dot_token_request(created["clientId"], rotated["clientSecret"])[0] == 200
    assert run("offboard_participant", pid, "--reason", "exit")["status"] == OperationalStatus.OFFBOARDED
    assert dot_token_request(created["clientId"], rotated["clientSecret"])[0] == 401
    assert AccessToken.objects.count() == 0
    assert Participant.objects.get().keys.filter(status=KeyStatus.REVOKED).count() == 2


def test_command_errors_are_one_line(db, key_file, tmp_path):
    private = tmp_path / "private.pem"
    private.write_bytes(private_pem(rsa_key("lender")))
    with pytest.raises(CommandError, match=r"^public_key: This input contains private key material"):
        call_command(*onboarding(private, org_name="X", base_url="https://x.example.in"))
    with pytest.raises(CommandError, match="No participant with id 'nope'"):
        call_command("offboard_participant", "nope", "--reason", "exit")
    with pytest.raises(CommandError, match="Cannot read public key file"):
        call_command(*onboarding(tmp_path / "missing.pem", org_name="X", base_url="https://x.example.in"))
    assert Participant.objects.count() == 0


def test_bad_input_exits_non_zero_with_one_line_on_stderr(db, tmp_path):
    """Run as a real subprocess against the test database, the way an operator's script would."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the subprocess needs a server database it can share")
    settings_dict = connection.settings_dict
    url = f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            *onboarding(garbage, org_name="X", base_url="https://x.example.in"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: public_key: Not a recognised public key. Expected an X.509 certificate (PEM), "
        "a public key (PEM, BEGIN PUBLIC KEY) or a public JWK (JSON)."
    ]


def manage_py(*args, **env) -> subprocess.CompletedProcess:
    """A management command run the way an operator's script runs it: a process of its own (no database needed:
    what these refuse is refused before one is touched)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///:memory:", **env},
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["offboard_participant", "p1"], {}, "error: the following arguments are required: --reason (see --help)"),
        (["suspend_participant", "p1"], {}, "error: the following arguments are required: --reason (see --help)"),
        (["cleanup_tokens", "--grace", "-7200"], {}, "argument --grace: must be 0 or more, not -7200 (see --help)"),
        (["cleanup_tokens", "--batch-size", "0"], {}, "argument --batch-size: must be 1 or more, not 0 (see --help)"),
        (
            [
                "onboard_participant",
                "--org-name",
                "X",
                "--role",
                "LENDER",
                "--base-url",
                "https://x.in",
                "--public",
                "k",
            ],
            {},
            "error: the following arguments are required: --public-key",  # --public is not taken for it
        ),
        (["quickstart_demo"], {"DJANGO_DEBUG": "0"}, "DJANGO_SECRET_KEY"),
    ],
    ids=[
        "offboard-without-reason",
        "suspend-without-reason",
        "negative-grace",
        "empty-batch",
        "abbreviated-flag",
        "bad-settings",
    ],
)
def test_every_refusal_is_one_line_on_stderr_and_a_non_zero_exit(args, env, line):
    result = manage_py(*args, **env)

    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and line in result.stderr, result.stderr


def test_add_participant_key_schedules_a_switch_and_prints_rfc3339_times(db, key_file, tmp_path):
    import re

    created = run(*onboarding(key_file))
    second = tmp_path / "second.pem"
    second.write_bytes(public_pem(rsa_key("command-second")))
    added = run(
        "add_participant_key",
        created["participantId"],
        "--public-key",
        str(second),
        "--primary-from",
        "2099-01-01T00:00:00Z",
    )
    rfc3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    assert rfc3339.fullmatch(added["validFrom"]) and added["primaryFrom"] == "2099-01-01T00:00:00.000Z"
    with pytest.raises(CommandError, match="--primary-from must be 'now' or an RFC 3339 time"):
        run("add_participant_key", created["participantId"], "--public-key", str(second), "--primary-from", "soon")
    for beyond in ("9999-12-31T23:00:00-05:00", "2099-01-01T00:00:00"):  # past the last day in UTC; no zone
        with pytest.raises(CommandError, match="--primary-from must be 'now' or an RFC 3339 time"):
            run("add_participant_key", created["participantId"], "--public-key", str(second), "--primary-from", beyond)


def test_a_key_added_without_a_switch_says_publickey_has_not_changed(db, key_file, tmp_path):
    created = run(*onboarding(key_file))
    second = tmp_path / "second.pem"
    second.write_bytes(public_pem(rsa_key("command-second")))
    out, err = StringIO(), StringIO()
    call_command("add_participant_key", created["participantId"], "--public-key", str(second), stdout=out, stderr=err)
    kid = json.loads(out.getvalue())["kid"]
    assert "publicKey still names the current primary key" in err.getvalue()
    assert f"promote_participant_key {created['participantId']} -- {kid}" in err.getvalue()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_commands_print_one_shape_and_say_what_else_changed(actor, lender, kyc_partner, tmp_path):
    """In its own process, as an operator runs it: clientAuthentication is a list wherever it is printed, and
    suspend, reinstate and offboard say what else they did (tokens revoked, keys withheld, published or revoked,
    resource mappings removed)."""
    import json as jsonlib

    from django.db import connection

    from tests.dot import dot_token_request
    from tests.servers import manage, production_env

    env = production_env(connection.settings_dict)

    def run(*args) -> dict:
        done = manage(env, *args)
        assert done.returncode == 0, done.stderr
        return jsonlib.loads(done.stdout)

    pid = str(lender.participant.pk)
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 200
    suspended = run("suspend_participant", pid, "--reason", "audit")
    assert (suspended["status"], suspended["keys"], suspended["canAuthenticate"]) == ("SUSPENDED", "withheld", False)
    assert suspended["changed"] == {"tokensRevoked": 1}
    reinstated = run("reinstate_participant", pid)
    assert (reinstated["keys"], reinstated["canAuthenticate"], reinstated["changed"]) == ("published", True, {})
    offboarded = run("offboard_participant", str(kyc_partner.participant.pk), "--reason", "licence cancelled")
    assert offboarded["keys"] == "revoked" and offboarded["changed"]["clientDeleted"] is True
    assert {"keysRevoked", "tokensRevoked", "resourceMappingsRemoved"} <= set(offboarded["changed"])

    key_file = tmp_path / "key.pem"
    key_file.write_bytes(public_pem(rsa_key("one-shape")))
    onboarded = run(
        "onboard_participant",
        "--org-name=One Shape",
        "--role=LENDER",
        "--base-url=https://one.example.in/ocen",
        f"--public-key={key_file}",
        "--key-only",
    )
    withdrawn = run("withdraw_client_secret", pid, "--reason", "keys only")
    assert onboarded["clientAuthentication"] == withdrawn["clientAuthentication"] == ["private_key_jwt"]
