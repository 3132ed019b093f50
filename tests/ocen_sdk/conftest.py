import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from participants import services
from tests.keys import public_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """Serve a WSGI app on a loopback port in a thread, for the test's duration; returns its base URL."""
    servers = []

    def start(app) -> str:
        server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def registry(live_server, settings):
    settings.OCEN_ISSUER = f"{live_server.url}/auth"
    return {"issuer": f"{live_server.url}/auth", "service": f"{live_server.url}/service"}


def onboard(actor, name, role, key_name, **extra):
    credentials = services.onboard_participant(
        org_name=name,
        role=role,
        base_url=f"https://{key_name}.example.in/ocen",
        public_key=public_pem(rsa_key(key_name)),
        actor=actor,
        **extra,
    )
    return credentials, credentials.participant.keys.get().kid


class Clock:
    """A monotonic clock for the toolkit's caches (RegistryKeys, RegistryClient) that moves only when told:
    a test ages a cached copy past its max-age without waiting for it."""

    def __init__(self):
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
