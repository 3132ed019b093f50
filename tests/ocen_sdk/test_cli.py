"""The participant CLI as a participant runs it: keygen → register → sign → verify, as subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from participants import services
from participants.models import Change
from tests.keys import FIXTURES
from tests.ocen_sdk.conftest import onboard

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "ocen_sdk", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
        check=False,
    )


def test_keygen_register_sign_verify_round_trip(tmp_path, registry, actor):
    agent, _kid = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "cli-agent")
    private, public = tmp_path / "agent.pem", tmp_path / "agent.jwk.json"

    keygen = cli("keygen", "--out", str(private), "--kid", "agent-2026-11")
    assert keygen.returncode == 0, keygen.stderr
    assert private.stat().st_mode & 0o777 == 0o600 and "PRIVATE KEY" in private.read_text()
    jwk = json.loads(keygen.stdout)
    assert jwk["kid"] == "agent-2026-11" and "d" not in jwk
    # Its standard output went to a pipe, not a screen: the JWK is not "above" anything.
    assert "register the public JWK written to standard output" in keygen.stderr
    public.write_text(keygen.stdout)
    out = StringIO()
    call_command("add_participant_key", str(agent.participant.id), "--public-key", str(public), stdout=out)
    assert json.loads(out.getvalue())["kid"] == "agent-2026-11"

    body = tmp_path / "request.json"
    body.write_bytes((FIXTURES / "create_loan_application_request.json").read_bytes())
    signed = cli("sign", str(body), "--key", str(private), "--kid", "agent-2026-11")
    assert signed.returncode == 0, signed.stderr
    signature = signed.stdout.strip()

    env = {
        "OCEN_ISSUER": registry["issuer"],
        "OCEN_REGISTRY_URL": registry["service"],
        "OCEN_CLIENT_ID": agent.participant.client_id,
        "OCEN_CLIENT_SECRET": agent.client_secret,
    }
    checked = cli("verify", str(body), signature, "--participant-id", str(agent.participant.id), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["matchedKid"] == "agent-2026-11"

    body.write_bytes(body.read_bytes().replace(b"CREATED", b"APPROVED"))
    tampered = cli("verify", str(body), signature, "--participant-id", str(agent.participant.id), env=env)
    assert tampered.returncode == 1 and json.loads(tampered.stdout)["reason"] == "signature_mismatch"

    def sign_with_the_new_key():
        return cli(
            "sign",
            str(body),
            "--key",
            str(private),
            "--kid",
            "agent-2026-11",
            "--participant-id",
            str(agent.participant.id),
            env=env,
        )

    # The new key is published, but not yet primary: signing names the participant, and is warned.
    warned = sign_with_the_new_key()
    assert warned.returncode == 0 and "is not" in warned.stderr and "primary key" in warned.stderr
    call_command("promote_participant_key", str(agent.participant.id), "agent-2026-11", stdout=StringIO())
    quiet = sign_with_the_new_key()
    assert quiet.returncode == 0 and quiet.stderr == ""

    whois = cli("whois", str(agent.participant.id), env=env)
    assert whois.returncode == 0 and json.loads(whois.stdout)["participantRole"] == "LOAN_AGENT"
    token = cli("token", env=env)
    assert token.returncode == 0 and token.stdout.count(".") == 2


def registry_env(registry, credentials) -> dict:
    return {
        "OCEN_ISSUER": registry["issuer"],
        "OCEN_REGISTRY_URL": registry["service"],
        "OCEN_CLIENT_ID": credentials.participant.client_id,
        "OCEN_CLIENT_SECRET": credentials.client_secret,
    }


def test_mirror_once_catches_up_and_whois_answers_from_the_mirror_file_alone(tmp_path, registry, actor):
    agent, _kid = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "cli-mirror-agent")
    env, path, pid = registry_env(registry, agent), tmp_path / "registry.sqlite3", str(agent.participant.id)
    once = cli("mirror", "--path", str(path), "--once", env=env)
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout) == {"seq": Change.objects.newest(), "participants": 1, "products": 0, "networks": 0}

    # The issuer alone, no credentials: the record comes from the file, as the registry signed it, checked with the
    # registry's keys from the issuer. Without the issuer, the file alone is not trusted.
    issuer_only = {"OCEN_ISSUER": registry["issuer"]}
    local = cli("whois", pid, "--mirror", str(path), env=issuer_only)
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout) == json.loads(cli("whois", pid, env=env).stdout)
    untrusted = cli("whois", pid, "--mirror", str(path))
    assert untrusted.returncode == 2 and "--issuer" in untrusted.stderr and untrusted.stdout == ""
    unknown = cli("whois", str(uuid.uuid4()), "--mirror", str(path), env=issuer_only)
    assert unknown.returncode != 0 and "No participant with id" in unknown.stderr and unknown.stdout == ""
    never_synced = tmp_path / "elsewhere.sqlite3"
    missing = cli("whois", pid, "--mirror", str(never_synced), env=issuer_only)
    assert missing.returncode != 0 and "No registry mirror" in missing.stderr and not never_synced.exists()


def test_mirror_follows_the_feed_until_interrupted(tmp_path, registry, actor):
    agent, _kid = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "cli-follow-agent")
    lender, _kid = onboard(actor, "Bharat Lending Bank", "LENDER", "cli-follow-lender")
    path, lender_id = tmp_path / "registry.sqlite3", str(lender.participant.id)
    following = subprocess.Popen(
        [sys.executable, "-m", "ocen_sdk", "mirror", "--path", str(path), "--interval", "0.2"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **registry_env(registry, agent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        caught_up = following.stdout.readline()  # the first sync's line, then it follows quietly
        expected = {"seq": Change.objects.newest(), "participants": 2, "products": 0, "networks": 0}
        assert json.loads(caught_up or "null") == expected
        services.suspend_participant(participant=lender.participant, actor=actor, reason="regulator's order")
        deadline = time.monotonic() + 20
        issuer_only = {"OCEN_ISSUER": registry["issuer"]}
        while (
            json.loads(cli("whois", lender_id, "--mirror", str(path), env=issuer_only).stdout)["status"] != "SUSPENDED"
        ):
            assert time.monotonic() < deadline, "the follower did not bring the suspension"
            time.sleep(0.2)
    finally:
        following.send_signal(signal.SIGINT)
        _stdout, stderr = following.communicate(timeout=20)
    assert following.returncode == 0, stderr
    assert stderr == ""


def test_keygen_never_overwrites_a_private_key(tmp_path):
    existing = tmp_path / "key.pem"
    existing.write_text("keep me")
    result = cli("keygen", "--out", str(existing))
    assert result.returncode != 0 and existing.read_text() == "keep me"


def test_missing_settings_are_named(tmp_path):
    result = cli("whois", "x")
    assert result.returncode != 0 and "--registry" in result.stderr


def test_the_toolkit_declares_every_package_it_imports():
    """A participant installs ocen_sdk/requirements.txt alone: every third-party import must be in it."""
    import ast
    import re
    import sys
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "ocen_sdk"
    declared = {
        re.split(r"[=<>\[ ]", line)[0].lower()
        for line in (package / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    distribution = {"jwt": "pyjwt"}  # import name -> distribution name, where they differ
    imported = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {distribution.get(name, name) for name in imported - set(sys.stdlib_module_names) - {"ocen_sdk"}}
    assert third_party == declared
    assert "django" not in third_party


@pytest.mark.parametrize("interval", ["0", "-1", "nan"])
def test_mirror_refuses_an_interval_that_would_hammer_the_registry(tmp_path, interval):
    refused = cli("mirror", "--path", str(tmp_path / "m.sqlite3"), "--interval", interval)
    assert refused.returncode == 2 and "--interval" in refused.stderr


def test_whois_on_a_file_that_is_not_a_mirror_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database at all, just some words " * 20)
    refused = cli("whois", str(uuid.uuid4()), "--mirror", str(tmp_path / "notes.txt"))
    assert refused.returncode == 2 and "is not a registry mirror" in refused.stderr
