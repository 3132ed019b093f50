"""The README and docs/ run as written.

Every fenced sh/bash/console/python block of README.md and docs/*.md is run, top to bottom, in one fresh
directory per file (a reader's terminal: what one block exports or writes, the next one has), against a live
quickstart registry started by the README's own `make run` block (SQLite, a free port). Placeholders are
filled from what that quickstart printed. A block marked `<!-- not run: why -->` must still fail here, and a
sample marked `<!-- output of the block above -->` must have the shape of what that block printed.
"""

import functools
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.docs import (
    NOT_COMMANDS,
    README,
    ROOT,
    SHELL_LANGUAGES,
    Block,
    Outcome,
    Reader,
    base_env,
    blocks,
    filled,
    inline_commands,
    markdown_files,
    shape_problem,
)
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
        credentials and the addresses it printed."""
        lender = next(p for p in self.demo_participants if p["role"] == "LENDER")
        return {
            "CLIENT_ID": lender["clientId"],
            "CLIENT_SECRET": lender["clientSecret"],
            "PARTICIPANT_ID": lender["participantId"],
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


class Walk:
    """A reader's walk through one markdown file: a new terminal at each section, every block in order."""

    def __init__(self, quickstart: Quickstart, directory: Path):
        self.quickstart, self.directory = quickstart, directory
        self.problems, self.record = [], []
        self.reader = self.section = self.last = self.failed = None

    def walk(self, file_blocks: list[Block]) -> "Walk":
        for block in file_blocks:
            if block.section != self.section or self.reader is None:
                self._new_terminal(block.section)
            self._take(block)
        return self

    def _new_terminal(self, section: str) -> None:
        self.section, self.last, self.failed = section, None, None
        directory = self.directory / f"terminal-{len(list(self.directory.glob('terminal-*')))}"
        self.reader = Reader(directory, self.quickstart.reader_env(), self.quickstart.placeholders())

    def _take(self, block: Block) -> None:
        if block.runs:
            for problem in command_problems(block.text):
                line, message = problem.split(": ", 1)
                self.problems.append(f"{block.path.relative_to(ROOT)}:{block.line + int(line)}: {message}")
        if block.shows_output:
            self._compare(block, block.text, "the output shown after it")
        elif block.language not in SHELL_LANGUAGES | {"python"} | NOT_COMMANDS:
            self.problems.append(
                f"{block.where}: unknown block language {block.language!r} (sh, bash, console, python)"
            )
        elif not block.runs:
            pass
        elif block == self.quickstart.block:
            self.last = Outcome(0, self.quickstart.output)
            self.record.append(f"{block.where} run: the quickstart this test runs against")
        elif self.failed:
            self.record.append(f"{block.where} not reached: {self.failed} failed earlier in this section")
        elif block.not_run:
            self._not_run(block)
        else:
            self._run(block)

    def _run(self, block: Block) -> None:
        self.last = self.reader.run(block, timeout=BLOCK_TIMEOUT)
        self.record.append(f"{block.where} run: {block.first_command()[:80]}")
        if not self.last.ran:
            self.failed = block.where
            at = f"line {self.last.failed_line}" if self.last.failed_line else "the block"
            status = "did not finish in time" if self.last.returncode is None else f"exited {self.last.returncode}"
            self.problems.append(f"{block.where}: {at} {status} when run as written:\n{self.last.output[-3000:]}")
        elif block.shown_output() and block.shown_output().strip():
            self._compare(block, block.shown_output(), "the output the console block shows")

    def _not_run(self, block: Block) -> None:
        self.last = self.reader.run(block, timeout=NOT_RUN_TIMEOUT)
        self.record.append(f"{block.where} not run: {block.not_run}")
        if self.last.ran:
            self.problems.append(
                f"{block.where} is marked 'not run: {block.not_run}' but it runs here: remove the marker"
            )

    def _compare(self, block: Block, sample: str, what: str) -> None:
        if self.last is None:
            self.problems.append(f"{block.where}: {what} has no command block above it in this section")
            return
        problem = shape_problem(filled(sample, self.reader.values), self.last.output)
        self.record.append(f"{block.where} output sample: {problem or 'same shape'}")
        if problem:
            printed = self.last.output[-2000:]
            self.problems.append(
                f"{block.where}: {what} is not what the block above prints: {problem}; it printed:\n{printed}"
            )


@functools.cache
def command_options() -> dict[str, set[str] | None]:
    """Every command a doc may name (management commands, the toolkit's subcommands, make targets), with the
    flags each accepts (None: any)."""
    from django.core.management import get_commands, load_command_class

    from ocen_sdk.__main__ import build_parser

    def flags(parser):
        return {option for action in parser._actions for option in action.option_strings}

    known = {
        name: flags(load_command_class(app, name).create_parser("manage.py", name))
        for name, app in get_commands().items()
    }
    toolkit = next(a for a in build_parser()._actions if a.choices and isinstance(a.choices, dict))
    known |= {f"ocen_sdk {name}": flags(parser) for name, parser in toolkit.choices.items()}
    targets = re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE)
    return known | {f"make {target}": None for target in targets}


COMMAND = re.compile(r"(?:manage\.py\s+|-m\s+(?P<toolkit>ocen_sdk)\s+|^\s*(?P<make>make)\s+)(?P<name>[a-z][\w-]*)")


def command_problems(text: str) -> list[str]:
    """Commands the text names (`manage.py X`, `python -m ocen_sdk X`, `make X`) that do not exist, or with
    flags they do not have (a comment after the command counts: it tells the reader what to type). Each
    problem starts with the number of the text's line it is on (1 for the first)."""
    problems, command, first = [], "", None
    for number, line in enumerate(text.splitlines(), 1):
        command, first = command + line.rstrip("\\") + " ", first or number
        if line.rstrip().endswith("\\"):
            continue
        problems += [f"{first}: {problem}" for problem in _named_problems(command)]
        command, first = "", None
    return problems


def _named_problems(command: str) -> list[str]:
    problems = []
    for found in COMMAND.finditer(command):
        name = " ".join(part for part in (found["toolkit"], found["make"], found["name"]) if part)
        if name not in command_options():
            problems.append(f"`{name}` is not a command here")
            continue
        accepted = command_options()[name]
        rest = command[found.end() :].split("|")[0].split("$(")[0]
        for flag in sorted(set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest)) - (accepted or set())):
            if accepted is not None:
                problems.append(f"`{name}` has no flag {flag}")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_command_block_runs_as_written(path, quickstart, tmp_path):
    walk = Walk(quickstart, tmp_path).walk(blocks(path))
    print("\n".join(walk.record))  # shown with -s or -rA: the per-file account of blocks run and not run
    assert not walk.problems, "\n\n".join(walk.problems)


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_command_named_in_the_prose_exists_with_its_flags(path):
    def as_typed(code):  # `add_participant_key ID …` in prose is a management command too
        return f"manage.py {code}" if code.split()[0] in command_options() else code

    problems = [
        f"{where}: {p.split(': ', 1)[1]}"
        for where, code in inline_commands(path)
        for p in command_problems(as_typed(code))
    ]
    assert not problems, "\n".join(problems)


def participant_quickstart() -> list[Block]:
    """The participant quickstart's shell block and the output sample after it."""
    found = blocks(README)
    index = next(i for i, block in enumerate(found) if "ocen_sdk keygen --out agent.pem" in block.text)
    assert found[index + 1].shows_output, f"{found[index].where}: no output sample after the quickstart"
    return found[index : index + 2]


def steps(block: Block) -> list[str]:
    """The block's commands, each with its continuation lines (comments and blank lines aside)."""
    commands, current = [], ""
    for line in block.text.splitlines(keepends=True):
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line
        if not line.rstrip().endswith("\\"):
            commands.append(current)
            current = ""
    return commands


def edited(block: Block, old: str, new: str, *, not_run: str | None = None) -> Block:
    """`block` with one edit, as another reader types it (their own organisation, so onboarding can run again)."""
    assert old in block.text and "My NBFC" in block.text, f"{block.where} no longer contains {old!r}"
    text = block.text.replace(old, new, 1).replace("My NBFC", f"NBFC {uuid.uuid4().hex[:8]}")
    return Block(block.path, block.line, block.language, text, not_run, False, block.section)


def walk_edited(quickstart, directory, old, new, *, not_run=None) -> list[str]:
    block, sample = participant_quickstart()
    sample = Block(
        *[getattr(sample, f) for f in ("path", "line", "language")],
        sample.text.replace("My NBFC", "NBFC"),
        None,
        True,
        sample.section,
    )
    return Walk(quickstart, directory).walk([edited(block, old, new, not_run=not_run), sample]).problems


def step_name(step: str) -> str:
    named = re.search(r"(?:ocen_sdk|manage\.py) ([\w-]+)", step)
    return named[1] if named else step.split("=")[0].split()[0]


@pytest.mark.parametrize("step", steps(participant_quickstart()[0]), ids=step_name)
def test_deleting_any_step_of_the_participant_quickstart_fails(quickstart, tmp_path, step):
    problems = walk_edited(quickstart, tmp_path, step, "")

    assert problems, f"the quickstart still passes without:\n{step}"


def test_a_flag_the_code_does_not_have_fails_before_anything_runs(quickstart, tmp_path):
    problems = walk_edited(quickstart, tmp_path, "--public-key agent.jwk.json", "--public-key-file agent.jwk.json")

    assert any("`onboard_participant` has no flag --public-key-file" in problem for problem in problems), problems


def test_a_marker_on_a_block_that_runs_is_reported_as_stale(quickstart, tmp_path):
    block = participant_quickstart()[0]

    problems = walk_edited(quickstart, tmp_path, "", "", not_run="needs a TLS proxy")

    assert f"{block.where} is marked 'not run: needs a TLS proxy' but it runs here: remove the marker" in problems


def test_a_command_or_flag_named_in_a_block_that_is_not_run_is_still_checked():
    assert command_problems("manage.py create_signing_keyz") == ["1: `create_signing_keyz` is not a command here"]
    assert command_problems(
        "manage.py migrate\nmanage.py onboard_participant --org-name X \\\n  --no-secret  # --key-only"
    ) == ["2: `onboard_participant` has no flag --no-secret"]
    assert command_problems("python -m ocen_sdk verify f s --signer-id X") == [
        "1: `ocen_sdk verify` has no flag --signer-id"
    ]
    assert command_problems("make tests") == ["1: `make tests` is not a command here"]
    assert command_problems("make test PYTEST_ARGS=-x && manage.py migrate --noinput") == []


def test_an_output_sample_of_another_shape_is_reported():
    assert shape_problem("Login:  admin / …\nIssuer: http://…/auth", "Login: admin / x1\nIssuer: http://h/auth") is None
    assert "Registry API" in shape_problem("Login: admin / …\nRegistry API: …", "Login: admin / x1\nIssuer: h")
    assert shape_problem("Login: admin / …\nIssuer: …", "Login: admin / \nIssuer: h")  # … stands for something
