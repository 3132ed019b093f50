"""The README's `make run` as a newcomer runs it, in real processes: a busy or mistyped port changes nothing and
says so in one line, and stopping `make` (Ctrl-C or a SIGTERM to its pid) stops the server and the worker."""

import os
import signal
import socket
import subprocess
from pathlib import Path

import requests

from tests.docs import base_env
from tests.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent


def make_run(directory: Path, port: str, **popen) -> subprocess.Popen:
    env = base_env(HOME=str(directory), QUICKSTART_PORT=port, QUICKSTART_DIR=str(directory))
    return subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finished(directory: Path, port: str) -> tuple[int, str]:
    process = make_run(directory, port)
    output, _ = process.communicate(timeout=300)
    return process.returncode, output


def quickstart_processes(directory: Path) -> list[int]:
    """The pids whose environment names this quickstart's database: its server and its worker."""
    marker = f"DATABASE_URL=sqlite:///{directory}/db.sqlite3".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours to read
                pass
    return found


def test_a_port_that_is_not_a_number_is_one_line_naming_the_variable(tmp_path):
    code, output = finished(tmp_path, "80x1")
    assert code != 0 and "QUICKSTART_PORT must be a port number from 1 to 65535, not '80x1'." in output
    assert "Traceback" not in output and not (tmp_path / "db.sqlite3").exists()


def test_an_issuer_whose_port_is_not_a_number_is_one_line_naming_it(tmp_path):
    env = base_env(OCEN_ISSUER="http://127.0.0.1:80x1/auth", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    done = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "manage.py: OCEN_ISSUER has a port that is not a number from 0 to 65535: 'http://127.0.0.1:80x1/auth'"
    ]


def test_a_second_quickstart_on_a_busy_port_changes_nothing_and_says_which_variable_to_set(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        code, output = finished(tmp_path, port)
    assert code != 0 and f"Port {port} is in use" in output and "QUICKSTART_PORT=" in output
    assert "Login:" not in output and "Traceback" not in output  # no new admin password, no new demo secrets
    assert not (tmp_path / "db.sqlite3").exists() and not (tmp_path / "demo-keys").exists()


def test_a_sigterm_to_make_stops_the_server_and_the_worker(tmp_path):
    port = str(free_port())
    process = make_run(tmp_path, port, start_new_session=True)
    try:
        assert wait_until(lambda: _serving(port), timeout=240), "make run never served"
        assert len(quickstart_processes(tmp_path)) == 2  # the server and the worker
        os.kill(process.pid, signal.SIGTERM)  # to make alone, as `kill <pid>` does: not its process group
        assert wait_until(lambda: not quickstart_processes(tmp_path), timeout=30), quickstart_processes(tmp_path)
        assert not _serving(port)
    finally:
        if quickstart_processes(tmp_path):
            for pid in quickstart_processes(tmp_path):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)


def _serving(port: str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
    except requests.ConnectionError:
        return False


def test_commands_run_beside_the_quickstart_wait_for_the_lock_instead_of_failing(tmp_path):
    """The server, the worker and eight commands at once on the quickstart's one SQLite file: every command
    succeeds (SQLite's rollback journal and no busy wait answered "database is locked" before)."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    port = str(free_port())
    process = make_run(tmp_path, port, start_new_session=True)
    try:
        assert wait_until(lambda: _serving(port), timeout=240), "make run never served"
        env = base_env(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", OCEN_ISSUER=f"http://127.0.0.1:{port}/auth")
        manage = [str(ROOT / ".venv/bin/python"), "manage.py"]
        listed = subprocess.run(
            [*manage, "export_registry"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        demo = [p["id"] for p in json.loads(listed.stdout)["participants"]]

        def rotate(n):
            return subprocess.run(
                [*manage, "rotate_client_secret", demo[n % len(demo)], "--reason", f"drill {n}"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            done = list(pool.map(rotate, range(8)))
        assert [d.returncode for d in done] == [0] * 8, [d.stderr for d in done if d.returncode]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
