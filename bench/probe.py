"""
In-process measurements the benchmark runs inside the served configuration (`manage.py shell`):
queries per request for each endpoint (first, cold and warm requests, through the whole
middleware stack with Django's test client), the admin changelist and dashboard at scale, and EXPLAIN plans.

    DJANGO_SETTINGS_MODULE=bench.settings python manage.py shell -c "import bench.probe as p; p.main()" < spec.json
"""

import json
import statistics
import sys
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from authapi.memory import memory
from participants.models import Participant


def queries(spec: dict) -> dict:
    """Queries per request, warm (second identical request) and cold (nothing remembered in-process)."""
    client = Client()
    counts = {}
    for name, request in spec.items():
        method = getattr(client, request["method"].lower())
        kwargs = {"content_type": request["content_type"]} if request.get("content_type") else {}
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.get("headers", {}).items()}
        counted = {}
        # One body per state when they must differ (single-use client assertions), else the same body.
        bodies = request.get("bodies") or [request.get("body", "")] * 3
        for state, body in zip(("first", "cold", "warm"), bodies, strict=True):
            # first: loads the signing key, which the process keeps
            if state == "cold":  # the rendering this process kept is forgotten
                memory.renderings.clear()
            with CaptureQueriesContext(connection) as captured:
                response = method(request["path"], body, **kwargs, **headers)
            assert response.status_code == request["status"], (name, response.status_code, response.content[:200])
            counted[state] = len(captured.captured_queries)
        del counted["first"]
        counts[name] = counted
    return counts


def operator(username: str) -> Client:
    """A browser session of an administrator signed in with both factors (production requires the second)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = get_user_model().objects.get(username=username)
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def admin_changelist(username: str, rounds: int = 5) -> dict:
    """The participant changelist, as a signed-in administrator: queries and milliseconds."""
    client = operator(username)
    url = "/admin/participants/participant/"
    assert client.get(url).status_code == 200  # warm
    timings = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return {
        "rows": Participant.objects.count(),
        "queries": len(captured.captured_queries),
        "ms_median": statistics.median(timings),
        "ms_max": max(timings),
    }


def dashboard(username: str, rounds: int = 5) -> dict:
    """The console's index (the dashboard), as a signed-in administrator: queries and milliseconds."""
    client = operator(username)
    assert client.get("/admin/").status_code == 200  # warm
    timings = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/admin/")
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and b'id="dashboard"' in response.content
    return {"queries": len(captured.captured_queries), "ms_median": statistics.median(timings), "ms_max": max(timings)}


def explain(since: str) -> dict:
    """The plans of the registry list's count and page reads, as the list view sends them."""
    base = Participant.objects.order_by("updated_at", "id")
    reads = {
        "list: count": lambda: base.count(),
        "list: ids of page 2000 (size 50)": lambda: list(base.values_list("id", flat=True)[100_000:100_050]),
        "updatedSince: count": lambda: base.filter(updated_at__gte=since).count(),
        "updatedSince: ids of page 0": lambda: list(
            base.filter(updated_at__gte=since).values_list("id", flat=True)[:50]
        ),
        "role filter: ids of page 0": lambda: list(base.filter(role="LENDER").values_list("id", flat=True)[:50]),
    }
    plans = {}
    for name, read in reads.items():
        with CaptureQueriesContext(connection) as captured:
            read()
        sql = captured.captured_queries[-1]["sql"]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) {sql}")
            plans[name] = {"sql": sql, "plan": [row[0] for row in cursor.fetchall()]}
    return plans


def main():
    spec = json.load(sys.stdin)
    out = {}
    if "queries" in spec:
        out["queries"] = queries(spec["queries"])
    if "admin" in spec:
        out["admin"] = admin_changelist(spec["admin"])
    if "dashboard" in spec:
        from participants import issuance

        out["hours_counted"] = issuance.count_past_hours()  # what the hourly cleanup_tokens does in production
        out["dashboard"] = dashboard(spec["dashboard"])
    if "explain" in spec:
        out["explain"] = explain(spec["explain"])
    print("PROBE " + json.dumps(out))
