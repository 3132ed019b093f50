"""The development quickstart prints a working admin login and working demo credentials, every run."""

import json
import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from participants.models import AuditEvent, ProductNetwork
from tests.dot import dot_token_request


def quickstart(tmp_path) -> tuple[str, list[dict]]:
    out = StringIO()
    call_command("quickstart_demo", "--keys-dir", str(tmp_path), stdout=out)
    text = out.getvalue()
    password = re.search(r"Login:\s+admin / (\S+)", text).group(1)
    demo = json.loads(text[text.index("[") : text.index("]\n") + 1])
    return password, demo


def test_quickstart_prints_working_login_and_credentials(tmp_path, db, settings):
    settings.DEBUG = True
    first_password, first = quickstart(tmp_path)
    password, demo = quickstart(tmp_path)  # a second run refreshes, never duplicates
    login = RequestFactory().post("/admin/login/")  # the lockout backend needs the request, as the admin gives it
    assert authenticate(login, username="admin", password=password) is not None
    assert authenticate(login, username="admin", password=first_password) is None
    assert [d["role"] for d in demo] == ["LENDER", "LOAN_AGENT", "KYC_PARTNER"]
    for old, new in zip(first, demo, strict=True):
        assert new["participantId"] == old["participantId"]
        assert dot_token_request(new["clientId"], new["clientSecret"])[0] == 200
        assert dot_token_request(old["clientId"], old["clientSecret"])[0] == 401
    assert (tmp_path / "lender.pem").stat().st_mode & 0o777 == 0o600
    network = ProductNetwork.objects.get()
    assert network.memberships.current().count() == 3


def test_quickstart_starts_approved_demo_participants_under_four_eyes_too(tmp_path, db, settings):
    settings.DEBUG, settings.OCEN_FOUR_EYES = True, True
    _, demo = quickstart(tmp_path)
    for participant in demo:
        assert dot_token_request(participant["clientId"], participant["clientSecret"])[0] == 200
    approvals = AuditEvent.objects.filter(action="participant.approved")
    assert approvals.count() == 3 and set(approvals.values_list("actor", flat=True)) == {"demo-reviewer"}
    assert authenticate(RequestFactory().post("/admin/login/"), username="demo-reviewer", password="") is None


def test_quickstart_refuses_to_run_in_production(tmp_path, db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("quickstart_demo", "--keys-dir", str(tmp_path), stdout=StringIO())


def test_the_sqlite_quickstart_issues_the_same_tokens_and_documents_as_postgresql(tmp_path):
    """The quickstart runs on SQLite, where raw SQL reads UUIDs back as bare hex: the token's
    participantId and the registry document must still carry the canonical UUID."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/quickstart.sqlite3",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "PYTHONPATH": str(root),
    }

    def manage(*args, stdin=None):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env=env,
            input=stdin,
            text=True,
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout

    manage("migrate", "--noinput")
    text = manage("quickstart_demo", "--keys-dir", str(tmp_path))
    lender, agent = json.loads(text[text.index("[") : text.index("]\n") + 1])[:2]
    script = f"""
import json, jwt
from django.test import Client
c = Client(HTTP_HOST="localhost")
body = "grant_type=client_credentials&client_id={agent["clientId"]}&client_secret={agent["clientSecret"]}"
token = c.post("/auth/token", body, content_type="application/x-www-form-urlencoded").json()["access_token"]
for _ in range(2):  # cold, then with the client remembered
    token = c.post("/auth/token", body, content_type="application/x-www-form-urlencoded").json()["access_token"]
details = c.get("/service/participant-roles/{lender["participantId"]}", HTTP_AUTHORIZATION="Bearer " + token)
print(json.dumps({{"claims": jwt.decode(token, options={{"verify_signature": False}}), "details": details.json()}}))
"""
    out = json.loads(manage("shell", "-c", script).strip().splitlines()[-1])
    assert out["claims"]["participantId"] == out["claims"]["sub"] == agent["participantId"]
    assert out["details"]["id"] == lender["participantId"] and out["details"]["participantRole"] == "LENDER"
