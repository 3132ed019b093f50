"""The docs as a reader meets them: their fenced blocks, and a terminal that runs them (tests/test_docs.py).

A block in one of RUN_LANGUAGES is a command block. A visible marker on the line above a block changes what
is expected of it:
    <!-- not run: why -->              it cannot run here, and running it must fail (else the marker is stale);
    <!-- output of the block above --> a sample of what the previous command block prints, compared by shape.
"""

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_LANGUAGES = {"sh", "bash", "console", "python"}
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.+?)\s*-->$")
OUTPUT_OF_ABOVE = "<!-- output of the block above -->"
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<language>[\w-]*)\s*$")
# What a reader has at hand in any directory they work in: the checkout's environment, its manage.py, the toolkit.
AT_HAND = (".venv", "manage.py", "ocen_sdk")
STATE = ".reader-state"
README = ROOT / "README.md"


def markdown_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence
    language: str
    text: str
    not_run: str | None  # the marker's reason
    shows_output: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES

    def first_command(self) -> str:
        return next((line.strip() for line in self.commands().splitlines() if line.strip()), "")

    def commands(self) -> str:
        """What a reader types: the block, or a console block's `$ ` lines (with their continuations)."""
        return self.text if self.language != "console" else console_parts(self.text)[0]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith(opening["fence"]))
        above = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        marker = NOT_RUN.match(above)
        found.append(
            Block(
                path=path,
                line=index + 1,
                language=opening["language"],
                text="\n".join(lines[index + 1 : end]) + "\n",
                not_run=marker["reason"] if marker else None,
                shows_output=above == OUTPUT_OF_ABOVE,
            )
        )
        index = end + 1
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
    reader copies what their quickstart printed. A shell variable of that name ($NAME, NAME=) is left alone."""
    for name, value in values.items():
        text = re.sub(rf"(?<![\w$]){re.escape(name)}(?![\w=])", lambda _, value=value: value, text)
    return text


def shape_problem(sample: str, actual: str) -> str | None:
    """None when `actual` has the shape of `sample`: the sample's text in order, `…` standing for anything,
    whitespace ignored. Otherwise the first piece of the sample that is not there."""
    pieces = [piece for piece in sample.split("…") if piece.strip()]
    flat = re.sub(r"\s+", "", actual)
    pattern = ""
    for piece in pieces:
        pattern += (".*?" if pattern else "") + re.escape(re.sub(r"\s+", "", piece))
        if not re.search(pattern, flat, re.DOTALL):
            return f"the output has nothing like {piece.strip()!r} (after the parts before it)"
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
        self.directory, self.env, self.values = directory, env, values
        for name in AT_HAND:
            (directory / name).symlink_to(ROOT / name)

    def run(self, block: Block, *, timeout: float) -> Outcome:
        text = filled(block.commands(), self.values)
        if block.language == "python":
            (self.directory / ".block.py").write_text(text)
            script = f"[ -f {STATE} ] && source {STATE}\nexec .venv/bin/python .block.py\n"
            return self._bash(script, timeout, first_line=None)
        # Line 1 of the script is the prelude; the block's first line is line 2.
        prelude = (
            f"set -Eeuo pipefail; trap 'echo \"docs: exit $? at line $LINENO: $BASH_COMMAND\" >&2' ERR; "
            f"if [ -f {STATE} ]; then source {STATE}; fi\n"
        )
        epilogue = f"\n{{ export -p; declare -f; }} > {STATE}\n"
        return self._bash(prelude + text + epilogue, timeout, first_line=block.line + 1)

    def _bash(self, script: str, timeout: float, first_line: int | None) -> Outcome:
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=self.directory,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as expired:
            output = expired.output.decode() if isinstance(expired.output, bytes) else expired.output or ""
            return Outcome(None, output)
        failed = re.findall(r"^docs: exit \d+ at line (\d+):", done.stdout, re.MULTILINE)
        line = first_line + int(failed[-1]) - 2 if failed and first_line else None
        return Outcome(done.returncode, done.stdout, line)


def base_env(**extra: str) -> dict[str, str]:
    """A new reader's environment: nothing of the test run's own settings (DATABASE_URL, MAKEFLAGS, …)."""
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ}
    return {**keep, "LC_ALL": "C.UTF-8", **extra}
