"""Helpers for tests and benchmarks that run the app in separate server processes on loopback."""

import socket
import time

import requests


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
        except requests.ConnectionError:
            time.sleep(interval)
    raise RuntimeError(f"nothing is serving {url}")
