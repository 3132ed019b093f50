"""Helpers for tests and benchmarks that run the app in separate server processes on loopback."""

import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, *, attempts: int = 100, interval: float = 0.1) -> None:
    """Poll `url` until the server accepts connections (any HTTP answer will do)."""
    for _ in range(attempts):
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still importing on a busy machine
            time.sleep(interval)
    raise RuntimeError(f"nothing is serving {url}")


def wait_until(condition, *, timeout: float = 30, interval: float = 0.05) -> bool:
    """Poll `condition()` until it is true or `timeout` seconds have passed; returns its last answer (the
    caller asserts it, so a deadline missed fails the test where it waited)."""
    deadline = time.monotonic() + timeout
    while not (met := condition()) and time.monotonic() < deadline:
        time.sleep(interval)
    return bool(met)


def access_token(base_url: str, credentials) -> str:
    """A participant's access token from a running registry, over HTTP, with its client secret."""
    response = requests.post(
        f"{base_url}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.participant.client_id,
            "client_secret": credentials.client_secret,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@functools.cache
def encryption_key() -> str:
    """A Fernet key for the signing keys at rest, made once per test session (never a committed secret)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@functools.cache
def collected_static(database_url: str) -> str:
    """The admin's static files, collected once per test session as production serves them (WhiteNoise
    with a manifest: without it, every admin page is an error when DJANGO_DEBUG is off)."""
    import tempfile

    root = tempfile.mkdtemp(prefix="ocen-static-")
    env = {**_production_defaults(database_url), "DJANGO_STATIC_ROOT": root}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    return root


def _production_defaults(database_url: str) -> dict:
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "production-mode-test-" + "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "OCEN_SIGNING_KEY_ENCRYPTION_KEYS": encryption_key(),
        "OCEN_AUTO_CREATE_SIGNING_KEY": "1",
    }


def production_env(settings_dict: dict, **overrides) -> dict:
    """The environment of a production-mode server (DJANGO_DEBUG=0) on the test database, with no
    cache (REDIS_URL unset: local memory) unless given one."""
    database_url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
        **{**settings_dict, "HOST": settings_dict["HOST"] or "127.0.0.1", "PORT": settings_dict["PORT"] or 5432}
    )
    env = {**_production_defaults(database_url), "DJANGO_STATIC_ROOT": collected_static(database_url)}
    env.update({name: str(value) for name, value in overrides.items()})
    return env


@contextlib.contextmanager
def gunicorn(env: dict, *, workers: int = 1, port: int | None = None):
    """A gunicorn serving the registry with `env` (on `port`, else a free one); yields its base URL;
    stopped on exit."""
    port = port or free_port()
    command = [sys.executable, "-m", "gunicorn", "ocen_registry.wsgi", "-w", str(workers), "--log-level", "error"]
    server = subprocess.Popen([*command, "-b", f"127.0.0.1:{port}"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/healthz")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    """A management command run as an operator would, in its own process, with `env`."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


class Receiver:
    """A participant's webhook endpoint on loopback, in a thread: records every POST it is sent (headers and
    exact body) in `attempts`, answers `status`, and keeps those it answered 200 in `deliveries`; `down()` stops
    listening (connections refused) and `up()` listens again on the same port."""

    def __init__(self, drip: float | None = None):
        """`drip`: answer a byte at a time, one every `drip` seconds (a receiver holding a deliverer as long as
        each read's timeout allows), instead of at once."""
        self.attempts: list[tuple[dict, bytes]] = []
        self.deliveries: list[tuple[dict, bytes]] = []
        self.status = 200
        self.drip = drip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/ocen/events"
        self._server = None
        self.up()

    def up(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = ({k.lower(): v for k, v in self.headers.items()}, body)
                receiver.attempts.append(received)
                if receiver.drip:
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                        time.sleep(receiver.drip)
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:  # the deliverer hung up
                            return
                    return
                if receiver.status == 200:
                    receiver.deliveries.append(received)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def events(self) -> list[dict]:
        import json

        return [json.loads(body) for _, body in self.deliveries]

    def wait_for(self, count: int, *, timeout: float = 30) -> list[dict]:
        """The events received, once there are at least `count` (or what there is after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()


@contextlib.contextmanager
def worker(env: dict):
    """`manage.py run_worker` in its own process with `env`, polling the queue every 50 ms; stopped on exit."""
    command = [sys.executable, "manage.py", "run_worker", "--no-reload", "--interval", "0.05", "--no-startup-delay"]
    process = subprocess.Popen([*command, "-v0"], cwd=ROOT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)
