"""Side by side in the same interleaved rounds: the token endpoint and GetParticipantDetails served by other
commits (git worktrees of them, on the same database with the same settings and the same load) and by this code
with its compiled statements run through the ORM (bench/orm_wsgi.py). The ratios say what a change cost or gained
on this machine, now, rather than against a figure measured elsewhere."""

import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The commits `make bench` compares with unless told otherwise: main before the layout round (issue 28).
AGAINST = ["8fc2b9c"]
COMPARED = ("POST /auth/token", "GetParticipantDetails")


class SideBySide:
    """The other servers, on ports from `first_port`: this code with its statements through the ORM, then each of
    `refs` from a worktree of its own. `serve(env, port, root=..., wsgi=...)` starts one (bench/run.py's)."""

    def __init__(self, refs, serve, env, first_port: int):
        self.worktrees, self.servers, self.bases = {}, {}, {}
        try:
            self._start("ORM statements", serve(env, first_port, wsgi="bench.orm_wsgi"), first_port)
            for n, ref in enumerate(refs, start=first_port + 1):
                path = self.worktrees[ref] = Path(tempfile.mkdtemp(prefix=f"ocen-bench-{ref}-"))
                git = ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), ref]
                subprocess.run(git, check=True, capture_output=True)
                self._start(ref, serve(env, n, root=path), n)
        except BaseException:
            self.stop()
            raise

    def _start(self, label, server, port):
        self.servers[label], self.bases[label] = server, f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for server in self.servers.values():
            server.terminate()
            server.wait(timeout=60)
        for path in self.worktrees.values():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], capture_output=True)


def variants(endpoints: dict, bases: dict[str, str]) -> dict:
    """For each compared endpoint, the same request at each other server: {label: base URL} → endpoints named
    "<endpoint> @<label>"."""
    added = {}
    for name in COMPARED:
        url, script = endpoints[name]
        path = url.split("/", 3)[3]
        for label, base in bases.items():
            added[f"{name} @{label}"] = (f"{base}/{path}", script)
    return added


def ratios(samples: dict, labels) -> dict:
    """This code's median throughput over each variant's, per compared endpoint."""
    out = {}
    for label in labels:
        for name in COMPARED:
            ours = statistics.median(s["rps"] for s in samples[name])
            theirs = statistics.median(s["rps"] for s in samples[f"{name} @{label}"])
            out[f"{name}: this code / {label}"] = ours / theirs
    for line, ratio in out.items():
        print(f"{line}: {ratio:.3f}")
    return out
