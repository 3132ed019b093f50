"""`make run`: the quickstart as one process that owns the registry's development server and its worker.

It checks the port before it changes anything (a second `make run` beside a running one says so, naming
QUICKSTART_PORT, and leaves the running one's database and secrets alone); migrates SQLite in QUICKSTART_DIR,
prints the admin login and the demo participants (quickstart_demo), then serves until it is stopped. Ctrl-C,
a SIGTERM to it, or one to `make` itself (it asks the kernel for a SIGTERM when its parent dies) stop the server
and the worker with it.

    python -m ocen_registry.quickstart --port 8000 --dir var
"""

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


def port_number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise SystemExit(f"QUICKSTART_PORT must be a port number from 1 to 65535, not {text!r}.")
    return int(text)


def refuse_busy(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(
                f"Port {port} is in use (a quickstart already running?): nothing was changed. Stop it, or serve "
                f"on another port with QUICKSTART_PORT={port + 1} make run."
            ) from None


def stop_with_parent() -> None:
    """Linux: a SIGTERM when the parent (make) dies, so `kill <make's pid>` stops the quickstart too."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def serve(port: int, directory: Path) -> int:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "OCEN_ISSUER": f"http://127.0.0.1:{port}/auth",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for step in (["migrate", "--noinput"], ["quickstart_demo", "--keys-dir", str(directory / "demo-keys")]):
        done = subprocess.run([*manage, *step], env=env, cwd=ROOT)  # noqa: S603 — our manage.py, fixed arguments
        if done.returncode:
            return done.returncode
    children = [
        subprocess.Popen([*manage, "run_worker", "--no-reload", "-v0"], env=env, cwd=ROOT),  # noqa: S603
        subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env, cwd=ROOT),  # noqa: S603
    ]

    def stop(signum, frame):
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return children[1].wait()
    finally:
        stop(None, None)
        for child in children:
            child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", default="8000")
    parser.add_argument("--dir", default="var")
    options = parser.parse_args()
    port = port_number(options.port)
    refuse_busy(port)
    stop_with_parent()
    directory = Path(options.dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    sys.exit(serve(port, directory))


if __name__ == "__main__":
    main()
