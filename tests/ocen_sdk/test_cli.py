"""The participant CLI as a participant runs it: keygen → register → sign → verify, as subprocesses."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

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
