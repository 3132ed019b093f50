"""CSV and JSON exports of the participant list and the audit trail, filtered as the list is."""

import csv
import io
import json

import pytest

from participants import services
from participants.models import AuditEvent, Role
from tests.keys import public_pem, rsa_key

pytestmark = pytest.mark.django_db

PARTICIPANTS = "/admin/participants/participant/export/"
AUDIT = "/admin/participants/auditevent/export/"
CSV_FORMAT, JSON_FORMAT = "0", "1"  # the export form's choices, in ConsoleExport.export_formats order


def export(client, url, file_format, query=""):
    response = client.post(f"{url}?{query}", {"format": file_format, "resource": "0"})
    assert response.status_code == 200, response.content[:500]
    return response


def rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
def suspended_agent(actor):
    agent = services.onboard_participant(
        org_name='=HYPERLINK("https://evil.example")',
        role=Role.LOAN_AGENT,
        base_url="https://agent.example.in/ocen",
        public_key=public_pem(rsa_key("agent")),
        actor=actor,
    )
    services.suspend_participant(participant=agent.participant, actor=actor, reason="overdue audit")
    return agent


def test_the_participant_export_is_the_filtered_list_without_secrets(admin_client, lender, suspended_agent):
    response = export(admin_client, PARTICIPANTS, CSV_FORMAT, "state=SUSPENDED")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    [row] = rows(response)  # the lender is active: the filter keeps it out
    assert row["participantId"] == str(suspended_agent.participant.pk)
    assert row["state"] == "Suspended" and row["role"] == "LOAN_AGENT"
    assert row["clientId"] == suspended_agent.participant.client_id
    assert row["organisation"] == 'HYPERLINK("https://evil.example")'  # a spreadsheet shows it, never runs it
    body = response.content.decode()
    assert suspended_agent.client_secret not in body and "pbkdf2" not in body and "BEGIN" not in body


def test_the_participant_export_in_json_follows_search_too(admin_client, lender, suspended_agent):
    everyone = json.loads(export(admin_client, PARTICIPANTS, JSON_FORMAT, "state=all").content)
    assert {p["participantId"] for p in everyone} == {str(lender.participant.pk), str(suspended_agent.participant.pk)}
    searched = json.loads(export(admin_client, PARTICIPANTS, JSON_FORMAT, "state=all&q=Bharat").content)
    assert [p["organisation"] for p in searched] == ["Bharat Lending Bank"]


def test_the_audit_export_follows_the_audit_filters(admin_client, lender, suspended_agent):
    client_id = suspended_agent.participant.client_id[:10]
    query = f"participant__client_id__icontains={client_id}&action__exact=participant.suspended"
    [row] = rows(export(admin_client, AUDIT, CSV_FORMAT, query))
    assert row["action"] == "participant.suspended" and row["actor"] == "asha"
    assert json.loads(row["details"])["reason"] == "overdue audit"
    by_actor = json.loads(export(admin_client, AUDIT, JSON_FORMAT, "actor__icontains=asha").content)
    assert len(by_actor) == AuditEvent.objects.filter(actor="asha").count() >= 3
    by_organisation = json.loads(
        export(admin_client, AUDIT, JSON_FORMAT, "organisation__name__icontains=bharat").content
    )
    assert by_organisation and {e["organisation"] for e in by_organisation} == {"Bharat Lending Bank"}


def test_the_audit_list_filters_by_date_and_refuses_nonsense_calmly(admin_client, lender):
    today = AuditEvent.objects.get(action="participant.onboarded").at.date().isoformat()
    listed = admin_client.get(f"/admin/participants/auditevent/?at_from={today}&at_to={today}")
    assert listed.status_code == 200 and "participant.onboarded" in listed.content.decode()
    for nonsense in ("at_from=yesterday", "actor__icontains=%00", "organisation__name__icontains=" + "x" * 5000):
        assert admin_client.get(f"/admin/participants/auditevent/?{nonsense}").status_code < 500


@pytest.mark.parametrize(
    "url",
    [f"{PARTICIPANTS}?created_at__gte=notadate", f"{PARTICIPANTS}?foo=1", f"{AUDIT}?at__gte=x"],
)
def test_an_export_with_a_filter_the_list_refuses_is_answered_as_the_list_answers_it(admin_client, lender, url):
    listed = admin_client.get(url.replace("export/", ""))
    assert listed.status_code == 302 and listed["Location"].endswith("/?e=1")  # the list's own answer
    for exported in (admin_client.get(url), admin_client.post(url, {"format": CSV_FORMAT, "resource": "0"})):
        assert exported.status_code == 302 and exported["Location"] == listed["Location"]
    shown = admin_client.get(listed["Location"])
    assert shown.status_code == 200 and "nothing was exported" in shown.content.decode()


def test_a_viewer_may_export_what_it_may_see(client, registry_viewer, lender):
    client.force_login(registry_viewer)
    [row] = rows(export(client, PARTICIPANTS, CSV_FORMAT))
    assert row["organisation"] == "Bharat Lending Bank"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_operator_exports_the_filtered_list_from_the_console(live_server, registry_admin, lender, suspended_agent):
    from tests.browser import chromium_page
    from tests.participants.test_admin_browser import log_in

    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(f"{live_server.url}/admin/participants/participant/?state=SUSPENDED")
        page.click("a:has-text('Export')")
        page.select_option("select[name=format]", label="csv")
        with page.expect_download() as download:
            page.click("#content [type=submit]")
        exported = download.value.path().read_text(encoding="utf-8-sig")

    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["participantId"] == str(suspended_agent.participant.pk) and row["state"] == "Suspended"
