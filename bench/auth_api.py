"""
Auth API throughput, as ratios of a trivial view measured on the same server in the same run.

Serves the app with gunicorn (2 sync workers) on PostgreSQL and drives it with wrk on loopback,
interleaving rounds of: a trivial plain view, POST /auth/token (client credentials, RS256 JWT) and
GET /service/participant-roles/{id} (GetParticipantDetails with bearer authentication).

    .venv/bin/python bench/auth_api.py [--rounds 3] [--seconds 5] [--connections 4]

Needs wrk (Debian package `wrk`) and a PostgreSQL server (BENCH_DATABASE_URL, default the local one;
the database `ocen_bench` is dropped and recreated). Writes bench/results/auth_api.json.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ocen_bench")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-that-is-long-enough-for-django-checks-0123456789",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_HSTS_SECONDS": "0",
    "DATABASE_URL": DATABASE_URL,
    "OCEN_ISSUER": f"{BASE}/auth",
    "OCEN_AUTO_CREATE_SIGNING_KEY": "1",
    "OCEN_SERVICE_RATE_PER_MINUTE": "100000000",
    "PYTHONPATH": str(ROOT),
}


def run(*args, **kwargs):
    return subprocess.run(args, cwd=ROOT, env=ENV, check=True, **kwargs)


def prepare_database():
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ocen_bench")
        conn.execute("CREATE DATABASE ocen_bench")
    run(sys.executable, "manage.py", "migrate", "--noinput", stdout=subprocess.DEVNULL)
    seed = """
import json
from participants import services
from participants.models import Role
from tests.keys import public_pem, rsa_key
actor = services.Actor.system()
agent = services.onboard_participant(org_name="Bench Agent", role=Role.LOAN_AGENT,
    base_url="https://agent.example.in", public_key=public_pem(rsa_key("agent")), actor=actor)
lender = services.onboard_participant(org_name="Bench Lender", role=Role.LENDER,
    base_url="https://lender.example.in", public_key=public_pem(rsa_key("lender")), actor=actor)
print(json.dumps({"agent": agent.as_json(), "lender": lender.as_json()}))
"""
    out = run(sys.executable, "manage.py", "shell", "-c", seed, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


WRK_THREADS = 2


def wrk(path: str, seconds: int, connections: int, script: str | None = None) -> dict:
    args = ["wrk", f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, BASE + path], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise SystemExit(f"{path}: {non_2xx.group(1)} failed responses\n{out}")

    def percentile(label):
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "p50_ms": percentile(50), "p99_ms": percentile(99)}


def lua(directory: str, name: str, body: str) -> str:
    path = Path(directory) / f"{name}.lua"
    path.write_text(body)
    return str(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    global WRK_THREADS
    WRK_THREADS = options.threads
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")

    seeded = prepare_database()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "ocen_registry.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{PORT}",
         "--log-level", "warning"],
        cwd=ROOT, env=ENV,
    )  # fmt: skip
    try:
        wait_until_serving(f"{BASE}/bench/trivial")
        agent, lender = seeded["agent"], seeded["lender"]
        form = urlencode({"grant_type": "client_credentials", "client_id": agent["clientId"],
                          "client_secret": agent["clientSecret"]})  # fmt: skip
        form_header = {"Content-Type": "application/x-www-form-urlencoded"}
        token = requests.post(f"{BASE}/auth/token", data=form, headers=form_header, timeout=10).json()["access_token"]
        details_path = f"/service/participant-roles/{lender['participantId']}"
        assert requests.get(BASE + details_path, headers={"Authorization": f"Bearer {token}"}, timeout=10).ok

        with tempfile.TemporaryDirectory() as scripts:
            endpoints = {
                "trivial view": ("/bench/trivial", None),
                "POST /auth/token": ("/auth/token", lua(scripts, "token", (
                    'wrk.method = "POST"\n'
                    f"wrk.body = {json.dumps(form)}\n"
                    'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                ))),
                "GetParticipantDetails": (details_path, lua(scripts, "details", (
                    f'wrk.headers["Authorization"] = "Bearer {token}"\n'
                ))),
            }  # fmt: skip
            wrk("/bench/trivial", 2, options.connections)  # warm-up
            samples = {name: [] for name in endpoints}
            for _ in range(options.rounds):
                for name, (path, script) in endpoints.items():
                    samples[name].append(wrk(path, options.seconds, options.connections, script))
    finally:
        server.terminate()
        server.wait(timeout=10)

    trivial = statistics.median(s["rps"] for s in samples["trivial view"])
    rows = []
    for name, runs in samples.items():
        rates = [s["rps"] for s in runs]
        rows.append({
            "endpoint": name,
            "rps_median": statistics.median(rates),
            "rps_min": min(rates),
            "rps_max": max(rates),
            "ratio": statistics.median(rates) / trivial,
            "p50_ms": statistics.median(s["p50_ms"] for s in runs),
            "p99_ms": statistics.median(s["p99_ms"] for s in runs),
        })  # fmt: skip
    print(f"{options.rounds} interleaved rounds of {options.seconds}s, {options.connections} connections, "
          f"gunicorn 2 sync workers, PostgreSQL")  # fmt: skip
    print(f"{'endpoint':<24}{'req/s median':>14}{'min-max':>18}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        spread = f"{row['rps_min']:.0f}-{row['rps_max']:.0f}"
        print(f"{row['endpoint']:<24}{row['rps_median']:>14.0f}{spread:>18}{row['ratio']:>8.3f}"
              f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}")  # fmt: skip
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "auth_api.json").write_text(json.dumps({"rounds": options.rounds, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
