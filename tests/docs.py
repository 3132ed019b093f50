"""The docs as a reader meets them: their fenced blocks, and a terminal that runs them (tests/test_docs.py).

A block in one of SHELL_LANGUAGES or `python` is a command block; a block in one of NOT_COMMANDS is not (a
diagram, a format, a plan); any other language is a mistake the docs test reports. A visible marker on the
line above a block changes what is expected of it:
    <!-- not run: why -->              it cannot run here: it is not run, but every command it names must exist
                                       with the flags it shows (and running it must fail, else the marker is stale);
    <!-- output of the block above --> a sample of what the previous command block prints, compared by shape.
"""

import contextlib
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
NOT_COMMANDS = {"", "text", "json"}
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.+?)\s*-->$")
OUTPUT_OF_ABOVE = "<!-- output of the block above -->"
FENCE = re.compile(r"^(?P<indent> {0,3}|\s*)(?P<fence>`{3,}|~{3,})\s*(?P<language>[\w-]*)")
HEADING = re.compile(r"^#{1,3} ")  # a section: a reader starts a new terminal at each
# What a reader has at hand in any directory they work in: the checkout's environment, its manage.py, the toolkit.
AT_HAND = (".venv", "manage.py", "ocen_sdk")
STATE = ".reader-state"


def markdown_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence
    language: str  # lower case
    text: str
    not_run: str | None  # the marker's reason
    shows_output: bool
    section: str  # the heading it is under

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in SHELL_LANGUAGES or self.language == "python"

    def first_command(self) -> str:
        lines = [line.strip() for line in self.commands().splitlines()]
        return next((line for line in lines if line and not line.startswith("#")), "")

    def commands(self) -> str:
        """What a reader types: the block, or a console block's `$ ` lines (with their continuations)."""
        return self.text if self.language != "console" else console_parts(self.text)[0]

    def shown_output(self) -> str | None:
        """The output a console block shows under its commands, if any."""
        return console_parts(self.text)[1] if self.language == "console" else None


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found, index, section = [], 0, ""
    while index < len(lines):
        if HEADING.match(lines[index]):
            section = lines[index].lstrip("# ").strip()
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        closing = re.compile(rf"^\s*{re.escape(opening['fence'][0])}{{{len(opening['fence'])},}}\s*$")
        end = next((i for i in range(index + 1, len(lines)) if closing.match(lines[i])), None)
        if end is None:
            raise ValueError(f"{path.relative_to(ROOT)}:{index + 1}: this fence is never closed")
        indent = len(opening["indent"])
        above = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        marker = NOT_RUN.match(above)
        found.append(
            Block(
                path=path,
                line=index + 1,
                language=opening["language"].lower(),
                text="\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n",
                not_run=marker["reason"] if marker else None,
                shows_output=above == OUTPUT_OF_ABOVE,
                section=section,
            )
        )
        index = end + 1
    return found


def inline_commands(path: Path) -> list[tuple[str, str]]:
    """(where, command) for each `manage.py …` or `ocen_sdk …` command named in the prose's inline code."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        for code in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", line):
            if re.search(r"(?:manage\.py|-m ocen_sdk)\s+\w", code) or re.match(r"[a-z_]+_[a-z_]+ ", code):
                found.append((f"{path.relative_to(ROOT)}:{number}", code))
    return found


def console_parts(text: str) -> tuple[str, str]:
    """A console block's commands (`$ ` lines and their `\\` continuations) and the output it shows."""
    commands, shown, continued = [], [], False
    for line in text.splitlines():
        if continued or line.startswith("$ "):
            commands.append(line if continued else line[2:])
            continued = line.endswith("\\")
        else:
            shown.append(line)
    return "\n".join(commands) + "\n", "\n".join(shown)


def filled(text: str, values: dict[str, str]) -> str:
    """`text` with each placeholder the docs use (CLIENT_ID, 127.0.0.1:8000, …) replaced by this run's value, as a
    reader copies what their quickstart printed. A shell variable of that name ($NAME, ${NAME}, NAME=) is left
    alone."""
    for name, value in values.items():
        text = re.sub(rf"(?<![\w${{]){re.escape(name)}(?![\w=}}])", lambda _, value=value: value, text)
    return text


def shape_problem(sample: str, actual: str) -> str | None:
    """None when `actual` has the shape of `sample`: the sample's lines, in order (other lines may come between),
    each `…` standing for something (at least one character), whitespace ignored. Otherwise the first line of the
    sample that is not there."""
    flat = re.sub(r"\s+", "", actual)
    pattern = ""
    for line in (line for line in sample.splitlines() if line.strip()):
        parts = [re.escape(re.sub(r"\s+", "", part)) for part in line.split("…")]
        pattern += (".*?" if pattern else "") + ".+?".join(parts)
        if not re.search(pattern, flat, re.DOTALL):
            return f"nothing like the line {line.strip()!r} (in order, after the lines before it)"
    return None


@dataclass
class Outcome:
    returncode: int | None  # None: still running at the timeout
    output: str  # stdout and stderr, interleaved as a reader's terminal shows them
    failed_line: int | None = None  # the markdown line of the command that failed, when the shell says

    @property
    def ran(self) -> bool:
        return self.returncode == 0


class Reader:
    """One reader's terminal: a fresh directory with what a checkout has at hand, an environment, and the
    shell state (exported variables, functions) each block leaves for the next, read top to bottom."""

    def __init__(self, directory: Path, env: dict[str, str], values: dict[str, str]):
        self.directory, self.env, self.values = directory, {**env, "HOME": str(directory)}, values
        directory.mkdir(parents=True, exist_ok=True)
        for name in AT_HAND:
            (directory / name).symlink_to(ROOT / name)

    def run(self, block: Block, *, timeout: float) -> Outcome:
        if block.language == "python":
            (self.directory / ".block.py").write_text(block.text)
            script = f"[ -f {STATE} ] && source {STATE}\nexec .venv/bin/python .block.py\n"
            return self._bash(script, timeout, first_line=None)
        # Line 1 of the script is the prelude; the block's first line is line 2.
        prelude = (
            f"set -Eeuo pipefail; trap 'echo \"docs: exit $? at line $LINENO: $BASH_COMMAND\" >&2' ERR; "
            f"if [ -f {STATE} ]; then source {STATE}; fi\n"
        )
        epilogue = f"\n{{ export -p; declare -f; }} > {STATE}\n"
        text = filled(block.commands(), self.values)
        return self._bash(prelude + text + epilogue, timeout, first_line=block.line + 1)

    def _bash(self, script: str, timeout: float, first_line: int | None) -> Outcome:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=self.directory,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=timeout)
            returncode = process.returncode
        except subprocess.TimeoutExpired:
            output, returncode = "", None
        finally:  # the block's whole process group, background jobs included
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if returncode is None:
            output = process.communicate()[0]
        failed = re.findall(r"^docs: exit \d+ at line (\d+):", output, re.MULTILINE)
        line = first_line + int(failed[-1]) - 2 if failed and first_line else None
        return Outcome(returncode, output, line)


def base_env(**extra: str) -> dict[str, str]:
    """A new reader's environment: nothing of the test run's own settings (DATABASE_URL, MAKEFLAGS, …)."""
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ}
    return {**keep, "LC_ALL": "C.UTF-8", **extra}
