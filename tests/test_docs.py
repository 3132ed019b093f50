"""The README and docs/ run as written.

Every fenced sh/bash/console/python block of README.md and docs/*.md is run, top to bottom, in one fresh
directory per file (a reader's terminal: what one block exports or writes, the next one has), against a live
quickstart registry started by the README's own `make run` block (SQLite, a free port). Placeholders are
filled from what that quickstart printed. A block marked `<!-- not run: why -->` must still fail here, and a
sample marked `<!-- output of the block above -->` must have the shape of what that block printed.
"""

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.docs import README, ROOT, Block, Outcome, Reader, base_env, blocks, filled, markdown_files, shape_problem
from tests.servers import free_port

QUICKSTART_COMMAND = "make run"
BLOCK_TIMEOUT = 240  # seconds; a block that runs this long is broken (the longest takes about 30)
NOT_RUN_TIMEOUT = 60  # a block that cannot run here is given this long to show it does not


class Quickstart:
    """The README's `make run`, serving on a free port with its database and demo keys in `directory`."""

    def __init__(self, block: Block, directory: Path):
        self.block, self.directory = block, directory
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log = directory / "make-run.log"
        self.env = base_env(HOME=str(directory), QUICKSTART_PORT=str(self.port), QUICKSTART_DIR=str(directory))
        self.process = None

    def start(self) -> None:
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", self.block.text],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300  # a fresh clone's first run installs the runtime requirements
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.block.where}: `make run` exited {self.process.returncode}:\n{self.output}")
            try:
                if requests.get(f"{self.origin}/healthz", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{self.block.where}: not serving {self.origin} 300 s after `make run`:\n{self.output}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)

    @property
    def output(self) -> str:
        return self.log.read_text()

    @property
    def demo_participants(self) -> list[dict]:
        text = self.output
        start = text.index("[", text.index("Demo participants"))
        return json.JSONDecoder().raw_decode(text[start:])[0]

    def placeholders(self) -> dict[str, str]:
        """What a reader copies from the quickstart's output into the docs' placeholders: the demo lender's
        credentials, an access token they got with them, and the addresses it printed."""
        lender = next(p for p in self.demo_participants if p["role"] == "LENDER")
        token = requests.post(
            f"{self.origin}/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": lender["clientId"],
                "client_secret": lender["clientSecret"],
            },
            timeout=10,
        ).json()["access_token"]
        return {
            "CLIENT_ID": lender["clientId"],
            "CLIENT_SECRET": lender["clientSecret"],
            "PARTICIPANT_ID": lender["participantId"],
            "ACCESS_TOKEN": token,
            "127.0.0.1:8000": f"127.0.0.1:{self.port}",
            "var/demo-keys": f"{self.directory}/demo-keys",
        }

    def reader_env(self) -> dict[str, str]:
        """A reader's terminal in the same checkout: management commands reach the quickstart's database."""
        return base_env(DATABASE_URL=f"sqlite:///{self.directory}/db.sqlite3")


def the_quickstart_block() -> Block:
    found = [block for block in blocks(README) if block.runs and block.first_command().startswith(QUICKSTART_COMMAND)]
    assert len(found) == 1, f"README.md should have one block that starts with `{QUICKSTART_COMMAND}`: {found}"
    return found[0]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    server = Quickstart(the_quickstart_block(), tmp_path_factory.mktemp("quickstart"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def run_in_order(file_blocks: list[Block], reader: Reader, quickstart: Quickstart) -> tuple[list[str], list[str]]:
    """Run `file_blocks` as a reader would; return what went wrong, and a line per block saying what happened."""
    problems, record, last = [], [], None
    for block in file_blocks:
        if block.shows_output:
            sample = filled(block.text, reader.values)
            problem = shape_problem(sample, last.output) if last else "no command block above it"
            record.append(f"{block.where} output sample: {problem or 'same shape'}")
            if problem:
                problems.append(f"{block.where}: the output shown is not what the block above prints: {problem}")
            continue
        if not block.runs:
            continue
        if block == quickstart.block:
            last = Outcome(0, quickstart.output)
            record.append(f"{block.where} run: the quickstart this test runs against")
            continue
        if block.not_run:
            last = reader.run(block, timeout=NOT_RUN_TIMEOUT)
            record.append(f"{block.where} not run: {block.not_run}")
            if last.ran:
                problems.append(
                    f"{block.where} is marked 'not run: {block.not_run}' but it runs here: remove the marker"
                )
            continue
        last = reader.run(block, timeout=BLOCK_TIMEOUT)
        record.append(f"{block.where} run: {block.first_command()[:70]}")
        if not last.ran:
            at = f"line {last.failed_line}" if last.failed_line else "the block"
            status = "did not finish in time" if last.returncode is None else f"exited {last.returncode}"
            problems.append(f"{block.where}: {at} {status} when run as written:\n{last.output[-3000:]}")
    return problems, record


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_command_block_runs_as_written(path, quickstart, tmp_path):
    reader = Reader(tmp_path, quickstart.reader_env(), quickstart.placeholders())
    problems, record = run_in_order(blocks(path), reader, quickstart)
    print("\n".join(record))  # shown with -s or -rA: the per-file account of blocks run and not run
    assert not problems, "\n\n".join(problems)


def participant_quickstart() -> Block:
    return next(block for block in blocks(README) if "ocen_sdk keygen --out agent.pem" in block.text)


def edited(block: Block, old: str, new: str, *, not_run: str | None = None) -> Block:
    """`block` with one edit, as another reader types it (their own organisation, so onboarding can run again)."""
    assert old in block.text and "My NBFC" in block.text, f"{block.where} no longer contains {old!r}"
    text = block.text.replace(old, new, 1).replace("My NBFC", f"NBFC {uuid.uuid4().hex[:8]}")
    return Block(block.path, block.line, block.language, text, not_run, False)


def test_a_participant_quickstart_with_a_step_deleted_fails(quickstart, tmp_path):
    block = participant_quickstart()
    step = next(line for line in block.text.splitlines() if "> request.json" in line)
    reader = Reader(tmp_path, quickstart.reader_env(), quickstart.placeholders())

    problems, _ = run_in_order([edited(block, step + "\n", "")], reader, quickstart)

    assert len(problems) == 1 and "request.json" in problems[0], problems


def test_a_flag_the_readme_names_that_the_command_does_not_have_fails(quickstart, tmp_path):
    block = edited(participant_quickstart(), "--public-key agent.jwk.json", "--public-key-file agent.jwk.json")
    reader = Reader(tmp_path, quickstart.reader_env(), quickstart.placeholders())

    problems, _ = run_in_order([block], reader, quickstart)

    assert len(problems) == 1 and "error: the following arguments are required: --public-key" in problems[0], problems


def test_a_marker_on_a_block_that_runs_is_reported_as_stale(quickstart, tmp_path):
    runnable = participant_quickstart()
    marked = edited(runnable, "", "", not_run="needs a TLS proxy")
    reader = Reader(tmp_path, quickstart.reader_env(), quickstart.placeholders())

    problems, _ = run_in_order([marked], reader, quickstart)

    assert problems == [f"{runnable.where} is marked 'not run: needs a TLS proxy' but it runs here: remove the marker"]


def test_an_output_sample_of_another_shape_is_reported():
    assert shape_problem("Login:  admin / …\nIssuer: http://…/auth", "Login: admin / x1\nIssuer: http://h/auth") is None
    assert "Registry API" in shape_problem("Login: admin / …\nRegistry API: …", "Login: admin / x1\nIssuer: h")
