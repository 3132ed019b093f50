"""
The registry off the request path, measured (bench/run.py runs these inside the registry's Django process, as
`manage.py shell`, against the gunicorn server it started; each prints one `PROBE {json}` line):

- lag: a RegistryMirror follows the feed over HTTP (poll interval stated); each of N changes is committed
  through the services, and the time from its commit to the mirror holding its sequence is recorded;
- deliveries: N changes are committed for one webhook subscription to a loopback receiver, then one
  `manage.py run_worker` process delivers them; deliveries per second from the first arrival to the last.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def lag(spec: dict) -> dict:
    from django.conf import settings

    from ocen_sdk import RegistryClient, RegistryKeys, RegistryMirror, TokenClient
    from participants import services
    from participants.models import Change, Participant

    issuer = settings.OCEN_ISSUER
    client = RegistryClient(
        spec["registry"],
        TokenClient(f"{issuer}/token", spec["client_id"], spec["client_secret"]),
        keys=RegistryKeys(issuer),
    )
    mirror = RegistryMirror(Path(tempfile.mkdtemp()) / "mirror.sqlite3", client, poll_interval=spec["interval"])
    mirror.sync()
    stop = threading.Event()
    follower = threading.Thread(target=mirror.follow, kwargs={"stop_event": stop}, daemon=True)
    follower.start()
    subject = Participant.objects.get(pk=spec["subject"])
    actor = services.Actor.system()
    lags = []
    for n in range(spec["changes"]):
        time.sleep(spec["interval"] * ((n * 0.618) % 1))  # commits land anywhere in the poll cycle
        if n % 2 == 0:
            services.suspend_participant(participant=subject, actor=actor, reason="lag probe")
        else:
            services.reinstate_participant(participant=subject, actor=actor)
        committed, seq = time.perf_counter(), Change.objects.newest()
        while (mirror.seq or 0) < seq:
            time.sleep(0.001)
        lags.append(time.perf_counter() - committed)
    stop.set()
    mirror.nudge()
    return {
        "interval_s": spec["interval"],
        "changes": len(lags),
        "p50_ms": statistics.median(lags) * 1000,
        "p99_ms": _percentile(lags, 0.99) * 1000,
        "max_ms": max(lags) * 1000,
    }


def deliveries(spec: dict) -> dict:
    from participants import services
    from participants.models import Organisation, Participant
    from tests.servers import Receiver

    receiver = Receiver()
    subscriber = Participant.objects.get(pk=spec["subscriber"])
    services.subscribe(
        participant=subscriber, url=receiver.url, events=["participant.changed"], actor=services.Actor.system()
    )
    organisation = Organisation.objects.get(participants__pk=spec["subject"])
    for n in range(spec["changes"]):
        services.update_organisation(
            organisation=organisation, actor=services.Actor.system(), website=f"https://{n}.in"
        )
    command = [sys.executable, "manage.py", "run_worker", "--no-reload", "--interval", "0.05", "--no-startup-delay"]
    worker = subprocess.Popen([*command, "-v0"], cwd=ROOT, env=os.environ.copy())
    try:
        arrivals = []
        deadline = time.monotonic() + 600
        while len(arrivals) < spec["changes"] and time.monotonic() < deadline:
            while len(arrivals) < len(receiver.deliveries):
                arrivals.append(time.perf_counter())
            time.sleep(0.001)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        receiver.down()
    seqs = [event["seq"] for event in receiver.events()]
    return {
        "events": len(arrivals),
        "in_order": seqs == sorted(seqs),
        "per_second": (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]),
    }


def main():
    spec = json.loads(sys.stdin.read())
    found = {"lag": lag, "deliveries": deliveries}[spec.pop("probe")](spec)
    print("PROBE " + json.dumps(found))
