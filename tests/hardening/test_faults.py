"""PostgreSQL or Redis outage: the API answers 503 in its documented shapes (never a stack trace) and
recovers by itself. Real processes: the app under gunicorn, the service reached through a TCP relay the
test cuts and restores."""

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.servers import free_port, production_env, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the servers write (signing keys)


class Forwarder:
    """A loopback TCP relay to PostgreSQL that can be cut (every connection dropped) and restored."""

    def __init__(self, target_port: int):
        self.target_port, self.port, self.sockets, self.listener = target_port, 0, [], None

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port, self.listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        # shutdown() wakes the thread blocked in accept(); close() alone would let one more connection in.
        for s in (self.listener, *self.sockets):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.sockets = []


def serve_through_forwarder(target: str):
    """gunicorn whose PostgreSQL (target "database") or Redis (target "cache") is reached through a relay."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a server database")
    settings = connection.settings_dict
    forwarder = Forwarder(int(settings["PORT"] or 5432) if target == "database" else 6379)
    forwarder.start()
    db_port = forwarder.port if target == "database" else settings["PORT"]
    port = free_port()
    env = production_env({**settings, "HOST": "127.0.0.1", "PORT": db_port}, DATABASE_PREPARED_STATEMENTS=0)
    if target == "cache":
        env["REDIS_URL"] = f"redis://127.0.0.1:{forwarder.port}/14"
    command = [sys.executable, "-m", "gunicorn", "ocen_registry.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "--log-level", "error"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{base}/healthz")
    return base, forwarder, server


@pytest.fixture(params=["database", "cache"])
def app_through_forwarder(request, transactional_db):
    base, forwarder, server = serve_through_forwarder(request.param)
    yield base, forwarder, request.param
    server.terminate()
    output = server.communicate(timeout=10)[0].decode()
    assert "Traceback" not in output, output
    forwarder.cut()


def test_outage_gives_503s_in_the_documented_shapes_and_recovers(app_through_forwarder):
    base, forwarder, target = app_through_forwarder
    assert requests.get(f"{base}/healthz", timeout=5).json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok"},
    }

    forwarder.cut()
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["errorCode"] == "SERVICE_UNAVAILABLE"
    assert health.json()["checks"][target] == "unreachable" and health.headers["Retry-After"]
    token = requests.post(f"{base}/auth/token", data={"client_id": "c", "client_secret": "s"}, timeout=10)
    assert token.status_code == 503 and token.json()["error"] == "temporarily_unavailable"
    details = requests.get(f"{base}/service/participant-roles/x", headers={"Authorization": "Bearer a.b.c"}, timeout=10)
    if target == "database":
        assert details.status_code == 503 and details.json()["errorCode"] == "SERVICE_UNAVAILABLE"
    else:  # an unknown token is refused by PostgreSQL alone, before the rate limiter would need Redis
        assert details.status_code == 401 and details.json()["errorCode"] == "INVALID_TOKEN"

    forwarder.start()  # PostgreSQL is back, on the same address
    for _ in range(20):
        if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
            break
        time.sleep(0.25)
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    assert (
        requests.post(f"{base}/auth/token", data={"client_id": "c", "client_secret": "s"}, timeout=10).status_code
        == 401
    )
