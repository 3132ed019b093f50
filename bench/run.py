"""
The registry's performance, as ratios of a trivial view measured on the same server in the same run.

One command runs the whole set (docs/performance.md explains the method):

1. throughput: interleaved wrk rounds of a trivial plain view, the token endpoint (production hasher,
   the same app with an unhashed secret, and private_key_jwt with a fresh assertion per request),
   GetParticipantDetails and its 304 revalidation, and stock django-oauth-toolkit
   (bench/stock_settings.py: PBKDF2 secret, and a plain one) served side by side;
   with queries per request counted in process; and side by side in the same rounds (bench/compare.py), the
   token endpoint and GetParticipantDetails of other commits (--against, git worktrees) and of this code with
   its compiled statements run through the ORM;
2. the ocen_sdk Verifier in process against two raw RSA verifications;
3. memory: a worker's RSS after 1,000 and after 100,000 mixed requests;
4. off the request path, at 100,000 participants: the snapshot (served, and a mirror bootstrapping from it:
   time and memory), feed lag from commit to a following mirror, webhook deliveries per second per worker
   (bench/sync.py);
5. scale: 100,000 participants and 10 million tokens seeded in bulk SQL, then throughput again,
   EXPLAIN plans of the list reads, the admin changelist, and token cleanup's peak memory.

    .venv/bin/python bench/run.py [--rounds 3] [--seconds 5] [--participants 100000] [--tokens 10000000]
                                  [--poll-interval 1] [--sync-only] [--against COMMIT ...]

Needs wrk and PostgreSQL (BENCH_DATABASE_URL; the database `ocen_bench` is dropped and recreated).
Prints tables and writes bench/results/bench.json.
"""

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import jwt
import psycopg
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import compare  # noqa: E402
from bench.scale import clone_participants, seed_tokens  # noqa: E402
from tests.servers import wait_until_serving  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ocen_bench")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
STOCK_PORT = PORT + 1
BASE, STOCK = f"http://127.0.0.1:{PORT}", f"http://127.0.0.1:{STOCK_PORT}"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-that-is-long-enough-for-django-checks-0123456789",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_HSTS_SECONDS": "0",
    "DATABASE_URL": DATABASE_URL,
    "OCEN_ISSUER": f"{BASE}/auth",
    "OCEN_AUTO_CREATE_SIGNING_KEY": "1",
    "OCEN_SIGNING_KEY_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # a Fernet key
    "OCEN_SERVICE_RATE_PER_MINUTE": "100000000",  # the load is one participant: measure, don't throttle
    "PYTHONPATH": str(ROOT),
    "OCEN_ALLOW_LOOPBACK_HTTP": "1",  # the webhook bench's receiver listens on loopback
}
STOCK_ENV = {**ENV, "DJANGO_SETTINGS_MODULE": "bench.stock_settings"}

SEED = """
import json, pathlib
from django.contrib.auth import get_user_model
from oauth2_provider.models import Application
from participants import services
from participants.models import Role
keys = pathlib.Path({keys!r})
actor = services.Actor.system()
def onboard(name, role, key):
    return services.onboard_participant(org_name=name, role=role, base_url="https://" + key + ".example.in",
        public_key=(keys / (key + ".pem")).read_bytes(), actor=actor)
agent, lender = onboard("Bench Agent", Role.LOAN_AGENT, "agent"), onboard("Bench Lender", Role.LENDER, "lender")
plain = onboard("Bench Plain", Role.KYC_PARTNER, "plain")
keyonly = services.onboard_participant(org_name="Bench Keyonly", role=Role.COLLECTIONS_PARTNER,
    base_url="https://keyonly.example.in", public_key=(keys / "keyonly.pem").read_bytes(), actor=actor, key_only=True)
# The same app with an unhashed secret: django-oauth-toolkit compares it as stored.
Application.objects.filter(pk=plain.participant.application_id).update(client_secret=plain.client_secret,
                                                                       hash_client_secret=False)
get_user_model().objects.create_superuser("bench-admin", "bench@example.in", "bench-admin-password-0123")
print(json.dumps({{"agent": agent.as_json(), "lender": lender.as_json(), "plain": plain.as_json(),
                  "keyonly": keyonly.as_json()}}))
"""

STOCK_SEED = """
import json
from oauth2_provider.models import Application
def client(name, hashed):
    app = Application(name=name, client_type="confidential", authorization_grant_type="client-credentials",
                      client_secret=name + "-secret-0123456789abcdef", hash_client_secret=hashed)
    app.save()
    return {"client_id": app.client_id, "client_secret": name + "-secret-0123456789abcdef"}
print(json.dumps({"pbkdf2": client("stock-pbkdf2", True), "plain": client("stock-plain", False)}))
"""


def manage(*args, env=ENV, stdin=None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def shell(code: str, env=ENV) -> dict:
    return json.loads(manage("shell", "-c", code, env=env).strip().splitlines()[-1])


def probe(spec: dict, env=ENV, module: str = "bench.probe") -> dict:
    out = manage("shell", "-c", f"import {module} as p; p.main()", env=env, stdin=json.dumps(spec))
    return json.loads(next(line for line in out.splitlines() if line.startswith("PROBE "))[6:])


def prepare_database(keys_dir: Path) -> dict:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ocen_bench")
        conn.execute("CREATE DATABASE ocen_bench")
    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput")  # the admin's assets, as production serves them
    seeded = shell(SEED.format(keys=str(keys_dir)))
    seeded["stock"] = shell(STOCK_SEED, env=STOCK_ENV)
    return seeded


# --- load ------------------------------------------------------------------------------------------------


def wrk(url: str, seconds: int, connections: int, script: str | None = None) -> dict:
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    out = subprocess.run(
        [*args, *(["-s", script] if script else []), url], capture_output=True, text=True, check=True
    ).stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failed:
        raise SystemExit(f"{url}: {failed.group(1)} failed responses\n{out}")

    def percentile(label):
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
    }


def lua(directory: str, name: str, body: str) -> str:
    path = Path(directory) / f"{name}.lua"
    path.write_text(body)
    return str(path)


def request_script(directory, name, method="GET", headers=None, body=None) -> str:
    lines = [f'wrk.method = "{method}"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    return lua(directory, name, "\n".join(lines) + "\n")


def rounds(endpoints: dict, options) -> dict:
    """Interleaved rounds: every endpoint once per round, so drift on the machine hits all alike."""
    samples = {name: [] for name in endpoints}
    for _ in range(options.rounds):
        for name, (url, script) in endpoints.items():
            samples[name].append(wrk(url, options.seconds, options.connections, script))
    return samples


def table(samples: dict, queries: dict, title: str) -> list[dict]:
    trivial = statistics.median(s["rps"] for s in samples["trivial view"])
    trivial_p50 = statistics.median(s["p50_ms"] for s in samples["trivial view"])
    rows = []
    for name, runs in samples.items():
        rates = [s["rps"] for s in runs]
        p50 = statistics.median(s["p50_ms"] for s in runs)
        rows.append(
            {
                "endpoint": name,
                "rps_median": statistics.median(rates),
                "rps_min": min(rates),
                "rps_max": max(rates),
                "ratio": statistics.median(rates) / trivial,
                "p50_ms": p50,
                "p50_vs_trivial": p50 / trivial_p50,
                "p99_ms": statistics.median(s["p99_ms"] for s in runs),
                "queries": queries.get(name),
            }
        )
    print(f"\n{title}")
    print(f"{'endpoint':<34}{'req/s median':>13}{'min-max':>14}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>9}  queries")
    for row in rows:
        spread = f"{row['rps_min']:.0f}-{row['rps_max']:.0f}"
        q = row["queries"]
        q = "" if q is None else (f"{q['warm']}" if q["warm"] == q["cold"] else f"{q['warm']} ({q['cold']} cold)")
        print(
            f"{row['endpoint']:<34}{row['rps_median']:>13.0f}{spread:>14}{row['ratio']:>7.3f}"
            f"{row['p50_ms']:>8.2f}{row['p99_ms']:>9.2f}  {q}"
        )
    return rows


# --- in-process measurements ----------------------------------------------------------------------------


def verifier_bench(seeded: dict, agent_key, n: int = 5000) -> dict:
    """ocen_sdk's Verifier on a real token and a real signed body, keys and records cached (warm), against
    the two raw RSA verifications it performs (cryptography, keys already loaded)."""
    from ocen_sdk import RegistryClient, RegistryKeys, TokenClient, Verifier, sign

    agent = seeded["agent"]
    keys = RegistryKeys(f"{BASE}/auth")
    tokens = TokenClient(f"{BASE}/auth/token", agent["clientId"], agent["clientSecret"])
    registry = RegistryClient(f"{BASE}/service", tokens, keys=keys)
    verifier = Verifier(f"{BASE}/auth", registry)
    body = json.dumps({"metadata": {"originatorParticipantId": agent["participantId"]}, "loan": "x" * 600}).encode()
    headers = {"Authorization": f"Bearer {tokens.token()}", "x-jws-signature": sign(body, agent_key)}
    verifier.verify_request(headers, body)  # warm: JWKS and the caller's record fetched once

    token = headers["Authorization"].split()[1]
    signing_input, _, token_signature = token.rpartition(".")
    jwks = requests.get(f"{BASE}/auth/certs", timeout=10).json()
    kid = jwt.get_unverified_header(token)["kid"]
    registry_key = jwt.PyJWK.from_dict(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    body_header = headers["x-jws-signature"].split("..")[0]
    body_input = body_header.encode() + b"." + body
    body_signature = _b64(headers["x-jws-signature"].split("..")[1])
    token_sig = _b64(token_signature)
    agent_public = agent_key.public_key()

    def raw():
        registry_key.verify(token_sig, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        agent_public.verify(body_signature, body_input, padding.PKCS1v15(), hashes.SHA256())

    def best(fn) -> float:
        timings = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(n):
                fn()
            timings.append((time.process_time() - started) / n)
        return min(timings)

    sdk = best(lambda: verifier.verify_request(headers, body))
    floor = best(raw)
    registry.close()
    return {"verifier_us": sdk * 1e6, "per_core_per_s": 1 / sdk, "raw_two_rsa_us": floor * 1e6, "ratio": sdk / floor}


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def worker_rss(server: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    rss = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        rss.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)))
    return rss


def memory_soak(server, mixed_script: str, mixed_requests: list, options) -> dict:
    """RSS of each worker after 1,000 mixed requests and after 100,000."""
    session = requests.Session()
    for index in range(1000):
        method, url, headers, body = mixed_requests[index % len(mixed_requests)]
        session.request(method, url, headers=headers, data=body, timeout=10).raise_for_status()
    early = worker_rss(server)
    served = 1000
    while served < 100_000:
        served += wrk(f"{BASE}/bench/trivial", 10, options.connections, mixed_script)["requests"]
    late = worker_rss(server)
    return {
        "after_1000_kb": early,
        "after_requests": served,
        "after_100000_kb": late,
        "growth": max(b / a for a, b in zip(early, late, strict=True)) - 1,
    }


def peak_rss_of(args: list[str], env=ENV) -> tuple[int, float, str]:
    """Peak RSS (sampled every 50 ms), seconds and output of a manage.py command (or, with args starting "-m",
    of a Python module)."""
    started = time.perf_counter()
    command = [sys.executable, *(args if args[0] == "-m" else ["manage.py", *args])]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak = max(peak, int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)))
        except (FileNotFoundError, AttributeError):
            pass
        time.sleep(0.05)
    return peak, time.perf_counter() - started, process.stdout.read().strip()


# --- the run -----------------------------------------------------------------------------------------------


def serve(env, port, root: Path = ROOT, wsgi: str = "ocen_registry.wsgi") -> subprocess.Popen:
    """gunicorn with 2 sync workers serving `wsgi` of the checkout at `root` (another commit's worktree: see
    bench/compare.py)."""
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            wsgi,
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",  # as deployed (docs/deployment.md): the snapshot of 100,000 participants takes tens of seconds
        ],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
    )
    wait_until_serving(f"http://127.0.0.1:{port}/bench/trivial")
    return server


def request_queries(agent_form, plain, stock, details, bearer, etag, keyonly, keyonly_key) -> dict:
    """Statements per request for each measured endpoint, counted inside the served configuration."""
    form_request = {"method": "POST", "content_type": FORM["Content-Type"], "status": 200}
    queries = probe(
        {
            "queries": {
                "trivial view": {"method": "GET", "path": "/bench/trivial", "status": 200},
                "POST /auth/token": {**form_request, "path": "/auth/token", "body": agent_form},
                "POST /auth/token (unhashed secret)": {
                    **form_request,
                    "path": "/auth/token",
                    "body": token_form(plain["clientId"], plain["clientSecret"]),
                },
                "POST /auth/token (private_key_jwt)": {
                    **form_request,
                    "path": "/auth/token",
                    "bodies": [assertion_form(keyonly["clientId"], keyonly_key) for _ in range(3)],
                },
                "GetParticipantDetails": {"method": "GET", "path": details, "headers": bearer, "status": 200},
                "GetParticipantDetails 304": {
                    "method": "GET",
                    "path": details,
                    "status": 304,
                    "headers": {**bearer, "If-None-Match": etag},
                },
            }
        }
    )["queries"]
    queries.update(
        probe(
            {
                "queries": {
                    "stock DOT token (PBKDF2 secret)": {
                        **form_request,
                        "path": "/stock/token",
                        "body": token_form(stock["pbkdf2"]["client_id"], stock["pbkdf2"]["client_secret"]),
                    },
                    "stock DOT token (plain secret)": {
                        **form_request,
                        "path": "/stock/token",
                        "body": token_form(stock["plain"]["client_id"], stock["plain"]["client_secret"]),
                    },
                }
            },
            env=STOCK_ENV,
        )["queries"]
    )
    return queries


def mixed_traffic(details, bearer, etag, agent_form) -> list:
    """The memory soak's requests: a token grant, a revalidation, a list page and 100 participants' records."""
    ids = [
        row[0]
        for row in psycopg.connect(DATABASE_URL)
        .execute("SELECT id FROM participants_participant ORDER BY updated_at LIMIT 100")
        .fetchall()
    ]
    mixed = [
        ("POST", f"{BASE}/auth/token", FORM, agent_form),
        ("GET", f"{BASE}{details}", {**bearer, "If-None-Match": etag}, None),
        ("GET", f"{BASE}/service/participant-roles?size=20&page=2", bearer, None),
    ]
    mixed += [("GET", f"{BASE}/service/participant-roles/{pk}", bearer, None) for pk in ids]
    return mixed


def mixed_script(mixed) -> str:
    """A wrk script that cycles through `mixed`."""
    lines = ["local requests = {}", "local i = 0", "init = function(args)"]
    for index, (method, url, headers, body) in enumerate(mixed):
        path = url.removeprefix(BASE)
        lua_headers = "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"
        lines.append(
            f"  requests[{index + 1}] = wrk.format({json.dumps(method)}, {json.dumps(path)}, "
            f"{lua_headers}, {json.dumps(body) if body else 'nil'})"
        )
    lines += ["end", "request = function() i = i + 1; return requests[(i % #requests) + 1] end"]
    return "\n".join(lines) + "\n"


def assertion_form(client_id: str, key, lifetime: int = 290) -> str:
    """A private_key_jwt token request with a fresh single-use assertion signed by `key`."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{BASE}/auth/token",
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    assertion = jwt.encode(claims, key, algorithm="RS256")
    return urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
    )


def assertion_script(directory: str, client_id: str, key, options) -> str:
    """A wrk script sending each pre-signed assertion once; wrk's threads take alternate lines. The pool
    outlasts every round at 2,000 requests/s per second of load (an exhausted pool fails the run loudly:
    a replayed assertion is a 401, which wrk() refuses)."""
    pool = Path(directory) / "assertions.txt"
    count = options.rounds * options.seconds * 2000
    pool.write_text("\n".join(assertion_form(client_id, key) for _ in range(count)) + "\n")
    headers = "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in FORM.items()) + "}"
    body = f"""
local threads, requests, i = 0, {{}}, 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args)
  local n = 0
  for line in io.lines({json.dumps(str(pool))}) do
    if n % 2 == id then requests[#requests + 1] = wrk.format("POST", "/auth/token", {headers}, line) end
    n = n + 1
  end
end
function request() i = i + 1; return requests[((i - 1) % #requests) + 1] end
"""
    return lua(directory, "private_key_jwt", body)


def token_form(client_id, secret):
    return urlencode({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=10_000_000)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="the mirror's, for the feed-lag figure")
    parser.add_argument(
        "--sync-only", action="store_true", help="only the snapshot, feed-lag and webhook figures (at scale)"
    )
    parser.add_argument(
        "--against", nargs="*", default=compare.AGAINST, help="commits served side by side (git worktrees)"
    )
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    results = {"options": vars(options)}

    scripts = tempfile.mkdtemp(prefix="ocen-bench-")
    keys_dir = Path(scripts)
    private = {
        name: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for name in ("agent", "lender", "plain", "keyonly")
    }
    for name, key in private.items():
        (keys_dir / f"{name}.pem").write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    seeded = prepare_database(keys_dir)
    agent, lender, plain, stock = seeded["agent"], seeded["lender"], seeded["plain"], seeded["stock"]
    keyonly = seeded["keyonly"]
    small = 100
    clone_participants(DATABASE_URL, lender["participantId"], small - 3, "small-")

    if options.sync_only:
        return sync_only(options, seeded, results)
    server, stock_server = serve(ENV, PORT), serve(STOCK_ENV, STOCK_PORT)
    side = compare.SideBySide(options.against, serve, ENV, PORT + 2)
    try:
        agent_form = token_form(agent["clientId"], agent["clientSecret"])
        token = requests.post(f"{BASE}/auth/token", data=agent_form, headers=FORM, timeout=10).json()["access_token"]
        details = f"/service/participant-roles/{lender['participantId']}"
        first = requests.get(BASE + details, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        first.raise_for_status()
        etag, bearer = first.headers["ETag"], {"Authorization": f"Bearer {token}"}
        endpoints = {
            "trivial view": (f"{BASE}/bench/trivial", None),
            "POST /auth/token": (f"{BASE}/auth/token", request_script(scripts, "token", "POST", FORM, agent_form)),
            "POST /auth/token (unhashed secret)": (
                f"{BASE}/auth/token",
                request_script(scripts, "plain", "POST", FORM, token_form(plain["clientId"], plain["clientSecret"])),
            ),
            # private_key_jwt: every request carries a fresh assertion (single-use jti), from a pre-signed pool.
            "POST /auth/token (private_key_jwt)": (
                f"{BASE}/auth/token",
                assertion_script(scripts, keyonly["clientId"], private["keyonly"], options),
            ),
            "GetParticipantDetails": (BASE + details, request_script(scripts, "details", headers=bearer)),
            "GetParticipantDetails 304": (
                BASE + details,
                request_script(scripts, "revalidate", headers={**bearer, "If-None-Match": etag}),
            ),
            "stock DOT token (PBKDF2 secret)": (
                f"{STOCK}/stock/token",
                request_script(
                    scripts,
                    "stock",
                    "POST",
                    FORM,
                    token_form(stock["pbkdf2"]["client_id"], stock["pbkdf2"]["client_secret"]),
                ),
            ),
            "stock DOT token (plain secret)": (
                f"{STOCK}/stock/token",
                request_script(
                    scripts,
                    "stockplain",
                    "POST",
                    FORM,
                    token_form(stock["plain"]["client_id"], stock["plain"]["client_secret"]),
                ),
            ),
        }
        endpoints_here = dict(endpoints)
        endpoints.update(compare.variants(endpoints, side.bases))
        wrk(f"{BASE}/bench/trivial", 2, options.connections)  # warm-up
        wrk(f"{STOCK}/bench/trivial", 2, options.connections)
        samples = rounds(endpoints, options)

        queries = request_queries(agent_form, plain, stock, details, bearer, etag, keyonly, private["keyonly"])
        results["throughput"] = table(
            samples,
            queries,
            f"{small} participants: {options.rounds} interleaved rounds "
            f"of {options.seconds}s, {options.connections} connections, gunicorn 2 sync "
            "workers, PostgreSQL",
        )
        results["side_by_side"] = compare.ratios(samples, side.bases)
        hashed = statistics.median(s["rps"] for s in samples["POST /auth/token"])
        unhashed = statistics.median(s["rps"] for s in samples["POST /auth/token (unhashed secret)"])
        print(f"token throughput with the production hasher / unhashed secret: {hashed / unhashed:.3f}")
        results["hasher_ratio"] = hashed / unhashed
        by_key = statistics.median(s["rps"] for s in samples["POST /auth/token (private_key_jwt)"])
        print(f"token throughput with private_key_jwt / with a client secret: {by_key / hashed:.3f}")
        results["private_key_jwt_ratio"] = by_key / hashed

        results["verifier"] = verifier = verifier_bench(seeded, private["agent"])
        print(
            f"\nocen_sdk Verifier (token + body signature, warm): {verifier['verifier_us']:.1f} µs per request "
            f"= {verifier['per_core_per_s']:.0f}/s per core; two raw RSA verifications {verifier['raw_two_rsa_us']:.1f}"
            f" µs; ratio {verifier['ratio']:.2f}"
        )

        mixed = mixed_traffic(details, bearer, etag, agent_form)
        results["memory"] = memory = memory_soak(server, lua(scripts, "mixed", mixed_script(mixed)), mixed, options)
        print(
            f"\nworker RSS after 1,000 mixed requests: {memory['after_1000_kb']} kB; after "
            f"{memory['after_requests']:,}: {memory['after_100000_kb']} kB; growth {memory['growth']:+.1%}"
        )

        if not options.skip_scale:
            grow_to(options, seeded)
            results["sync"] = sync_bench(server, seeded, options)
            results["scale"] = scale(options, seeded, endpoints_here, results["throughput"])
    finally:
        for process in (server, stock_server):
            process.terminate()
            process.wait(timeout=60)
        side.stop()

    write(results)


def sync_only(options, seeded, results) -> None:
    server = serve(ENV, PORT)
    try:
        grow_to(options, seeded)
        results["sync"] = sync_bench(server, seeded, options)
    finally:
        server.terminate()
        server.wait(timeout=60)
    write(results)


def write(results: dict) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = "sync.json" if results["options"]["sync_only"] else "bench.json"
    (out / name).write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten: {out / name}")


def grow_to(options, seeded) -> None:
    started = time.perf_counter()
    clone_participants(DATABASE_URL, seeded["lender"]["participantId"], options.participants - 100, "scale-")
    print(f"\nseeded {options.participants:,} participants in {time.perf_counter() - started:.0f}s", flush=True)


def sync_bench(server, seeded, options) -> dict:
    """The snapshot of every participant (server: time and the workers' RSS growth; a mirror bootstrapping
    from it: time and peak RSS), feed lag from commit to a following mirror, webhook deliveries per second."""
    agent = seeded["agent"]
    token = requests.post(
        f"{BASE}/auth/token", data=token_form(agent["clientId"], agent["clientSecret"]), headers=FORM, timeout=10
    ).json()["access_token"]
    before, peaks, done = worker_rss(server), [], []

    def sample():
        while not done:
            peaks.append(worker_rss(server))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    response = requests.get(f"{BASE}/service/snapshot", headers={"Authorization": f"Bearer {token}"}, timeout=600)
    serve_seconds = time.perf_counter() - started
    done.append(True)
    sampler.join()
    response.raise_for_status()
    growth = max(max(p[i] for p in peaks) - before[i] for i in range(len(before)))
    mirror_env = {
        **ENV,
        "OCEN_REGISTRY_URL": f"{BASE}/service",
        "OCEN_CLIENT_ID": agent["clientId"],
        "OCEN_CLIENT_SECRET": agent["clientSecret"],
    }
    path = Path(tempfile.mkdtemp(prefix="ocen-mirror-")) / "mirror.sqlite3"
    mirror_peak, mirror_seconds, _ = peak_rss_of(
        ["-m", "ocen_sdk", "mirror", "--path", str(path), "--once"], mirror_env
    )
    snapshot = {
        "participants": len(response.json()["participants"]),
        "bytes": len(response.content),
        "serve_seconds": serve_seconds,
        "server_worker_rss_growth_kb": growth,
        "mirror_bootstrap_seconds": mirror_seconds,
        "mirror_peak_rss_kb": mirror_peak,
        "mirror_file_bytes": path.stat().st_size,
    }
    print(
        f"\nsnapshot of {snapshot['participants']:,} participants ({snapshot['bytes'] / 2**20:.0f} MB): served in "
        f"{serve_seconds:.1f}s, worker RSS +{growth / 1024:.0f} MB; a mirror bootstraps from it in "
        f"{mirror_seconds:.1f}s at {mirror_peak / 1024:.0f} MB peak RSS "
        f"({snapshot['mirror_file_bytes'] / 2**20:.0f} MB file)"
    )
    lag = probe(
        {
            "probe": "lag",
            "registry": f"{BASE}/service",
            "client_id": agent["clientId"],
            "client_secret": agent["clientSecret"],
            "subject": seeded["lender"]["participantId"],
            "interval": options.poll_interval,
            "changes": 100,
        },
        module="bench.sync",
    )
    print(
        f"feed lag, commit to mirror (poll every {lag['interval_s']}s, {lag['changes']} changes): "
        f"p50 {lag['p50_ms']:.0f} ms, p99 {lag['p99_ms']:.0f} ms, max {lag['max_ms']:.0f} ms"
    )
    delivered = probe(
        {
            "probe": "deliveries",
            "subscriber": agent["participantId"],
            "subject": seeded["lender"]["participantId"],
            "changes": 2000,
        },
        module="bench.sync",
    )
    print(
        f"webhook deliveries, one worker: {delivered['per_second']:.0f}/s "
        f"({delivered['events']:,} events, in order: {delivered['in_order']})"
    )
    return {"snapshot": snapshot, "lag": lag, "deliveries": delivered}


def scale(options, seeded, endpoints, small_rows) -> dict:
    started = time.perf_counter()
    seed_tokens(DATABASE_URL, options.tokens, "scale-", progress=lambda done: print(f"  {done:,} tokens", flush=True))
    print(f"seeded {options.tokens:,} tokens in {time.perf_counter() - started:.0f}s", flush=True)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        sizes = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('oauth2_provider_accesstoken')), "
            "(SELECT count(*) FROM participants_participant)"
        ).fetchone()
    print(f"token table {sizes[0]}; {sizes[1]:,} participants")
    hot = {name: endpoints[name] for name in ("trivial view", "POST /auth/token", "GetParticipantDetails")}
    samples = rounds(hot, options)
    rows = table(samples, {}, f"{sizes[1]:,} participants, {options.tokens:,} stored tokens")
    small = {row["endpoint"]: row for row in small_rows}
    for row in rows:
        row["vs_small_ratio"] = row["ratio"] / small[row["endpoint"]]["ratio"]
        row["vs_small_rps"] = row["rps_median"] / small[row["endpoint"]]["rps_median"]
        print(
            f"  {row['endpoint']:<32} at scale / at 100: ratio {row['vs_small_ratio']:.3f}, "
            f"req/s {row['vs_small_rps']:.3f}"
        )
    since = (
        psycopg.connect(DATABASE_URL)
        .execute("SELECT updated_at FROM participants_participant ORDER BY updated_at DESC OFFSET 500 LIMIT 1")
        .fetchone()[0]
    )
    found = probe({"explain": since.isoformat(), "admin": "bench-admin", "dashboard": "bench-admin"})
    print(
        f"admin changelist at {found['admin']['rows']:,} rows: {found['admin']['queries']} queries, "
        f"{found['admin']['ms_median']:.0f} ms median ({found['admin']['ms_max']:.0f} max)"
    )
    print(
        f"console dashboard at {found['admin']['rows']:,} participants and {options.tokens:,} tokens: "
        f"{found['dashboard']['queries']} queries, {found['dashboard']['ms_median']:.0f} ms median "
        f"({found['dashboard']['ms_max']:.0f} max)"
    )
    for name, plan in found["explain"].items():
        print(f"\nEXPLAIN {name}\n  " + "\n  ".join(plan["plan"]))
    peak, seconds, output = peak_rss_of(["cleanup_tokens", "--grace", "0", "--batch-size", "20000"])
    idle_peak, _, _ = peak_rss_of(["cleanup_tokens", "--grace", "0"])
    print(
        f"\ntoken cleanup: {output} in {seconds:.0f}s; peak RSS {peak / 1024:.0f} MB "
        f"(the same command with nothing to delete: {idle_peak / 1024:.0f} MB)"
    )
    return {
        "rows": rows,
        "token_table": sizes[0],
        "admin": found["admin"],
        "dashboard": found["dashboard"],
        "explain": found["explain"],
        "cleanup": {"output": output, "seconds": seconds, "peak_rss_kb": peak, "idle_peak_rss_kb": idle_peak},
    }


if __name__ == "__main__":
    main()
