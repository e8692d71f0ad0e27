"""Run the shell examples of a Markdown file and check the answers it shows.

The README's ```sh blocks run in order in one bash session. A block right after the line
`<!-- readme-test: skip -->` is shown to readers but not run (starting the server itself, a
second server). Under a command, comment lines say what it prints:

    # -> 202            the status of the HTTP answer it printed (`curl -i`), or, for anything
                        else, its whole output; `...` stands for any text
    # => {"a": 1}       JSON it printed (the body, after the headers of `curl -i`) holds these
                        fields; lists are compared element by element, a last element "..."
                        allows more; a string value "..." (or with "..." in it) matches any text,
                        a key "..." any key whose value matches

Consecutive `# =>` lines are one JSON value; consecutive `# ->` lines are the lines of one output.
A command may go on over lines ending in a backslash, `|`, `&&` or `||`, and may carry a here-document; a
loop or `if` stays on one line.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SKIP_MARKER = "<!-- readme-test: skip -->"
_FENCE = re.compile(r"^```sh[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)'?\"?")
_MARK = "@@readme"
_OPENS = re.compile(r"\s*(for|while|until|if|case)\b")
_CLOSES = re.compile(r"\b(done|fi|esac)\s*(#.*)?$")


@dataclass
class Command:
    text: str
    line: int  # 1-based line of the Markdown file where the command starts
    shown: list[str] = field(default_factory=list)  # `# ->` lines
    json_lines: list[str] = field(default_factory=list)  # `# =>` lines


def runnable_blocks(markdown: str) -> list[tuple[int, str]]:
    """(first line number, text) of every ```sh block that runs, in order."""
    blocks = []
    for match in _FENCE.finditer(markdown):
        before = markdown[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if before.strip() == SKIP_MARKER:
            continue
        blocks.append((markdown.count("\n", 0, match.start(1)) + 1, match.group(1)))
    return blocks


def _continues(line: str) -> bool:
    stripped = line.rstrip()
    return stripped.endswith(("\\", "|", "&&", "||"))


def commands(markdown: str) -> list[Command]:
    """The commands of every runnable block, with the answers shown under each."""
    found: list[Command] = []
    for first, text in runnable_blocks(markdown):
        lines = text.split("\n")
        i = 0
        last: Command | None = None
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped.startswith("# ->"):
                if last is None:
                    raise ValueError(f"line {first + i}: an answer with no command above it")
                last.shown.append(stripped[4:].strip())
            elif stripped.startswith("# =>"):
                if last is None:
                    raise ValueError(f"line {first + i}: an answer with no command above it")
                last.json_lines.append(stripped[4:].strip())
            elif stripped.startswith("#") or not stripped:
                pass
            else:
                start = i
                body = [line]
                heredoc = _HEREDOC.search(line)
                while _continues(lines[i]) and i + 1 < len(lines):
                    i += 1
                    body.append(lines[i])
                if heredoc:
                    end = heredoc.group(1)
                    while i + 1 < len(lines) and lines[i].strip() != end:
                        i += 1
                        body.append(lines[i])
                text = "\n".join(body)
                if _OPENS.match(text) and not _CLOSES.search(text):
                    raise ValueError(f"line {first + start}: keep a loop or `if` on one line "
                                     "(or continue its lines with `\\`): markers go between commands")
                last = Command(text, first + start)
                found.append(last)
            i += 1
    return found


def script(cmds: list[Command]) -> str:
    """One bash script running every command, each preceded by a marker line on stdout."""
    parts = ["set -euo pipefail"]
    for n, cmd in enumerate(cmds):
        parts.append(f"printf '\\n{_MARK} {n}\\n'")
        parts.append(cmd.text)
    parts.append(f"printf '\\n{_MARK} end\\n'")
    return "\n".join(parts) + "\n"


def outputs(stdout: str) -> dict[int, str]:
    """What each command printed, by its index."""
    pieces = re.split(rf"\n{_MARK} (\d+|end)\n", "\n" + stdout)
    found = {}
    for marker, text in zip(pieces[1::2], pieces[2::2]):
        if marker != "end":
            found[int(marker)] = text
    return found


def _split_http(output: str) -> tuple[str | None, str]:
    """(status code, body) of a `curl -i` output; (None, output) for anything else."""
    if not output.startswith("HTTP/"):
        return None, output
    head, _, body = output.replace("\r\n", "\n").partition("\n\n")
    return head.split("\n", 1)[0].split()[1], body


def _text_matches(pattern: str, text: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("..."))
    return re.fullmatch(regex, text, re.S) is not None


def json_matches(expected, actual) -> bool:
    """`actual` holds what `expected` shows (see the module's docstring)."""
    if isinstance(expected, str):
        return isinstance(actual, str) and _text_matches(expected, actual)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            any(json_matches(value, v) for v in actual.values()) if key == "..." else
            key in actual and json_matches(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if expected and expected[-1] == "...":
            head = expected[:-1]
            return len(actual) >= len(head) and all(map(json_matches, head, actual))
        return len(actual) == len(expected) and all(map(json_matches, expected, actual))
    return type(expected) is type(actual) and expected == actual


def check(cmd: Command, output: str) -> str | None:
    """Why the output differs from what the README shows, or None."""
    status, body = _split_http(output)
    if cmd.shown:
        want = "\n".join(cmd.shown)
        if status is not None:
            if want.split()[0] != status:
                return f"status {status}, the README shows {want}"
        elif not _text_matches(want, output.strip()):
            return f"the output differs from {want!r}"
    if cmd.json_lines:
        expected = json.loads(" ".join(cmd.json_lines))
        try:
            actual = json.loads(body)
        except ValueError:
            return "the output is not JSON"
        if not json_matches(expected, actual):
            return f"the JSON differs from {json.dumps(expected)}"
    return None


def run(markdown: str, cwd: Path, env: dict[str, str], timeout: float = 240) -> list[str]:
    """Run the runnable blocks in one bash session; the problems found (empty: all as shown)."""
    cmds = commands(markdown)
    path = cwd / "readme-examples.sh"
    path.write_text(script(cmds))
    proc = subprocess.run(["bash", "--noprofile", "--norc", str(path)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    printed = outputs(proc.stdout)
    problems = []
    for n, cmd in enumerate(cmds):
        if n not in printed:
            break
        why = check(cmd, printed[n])
        if why:
            problems.append(f"README line {cmd.line}: {why}\n$ {cmd.text}\n{printed[n].strip()[:2000]}")
    if proc.returncode != 0:
        ran = max(printed, default=-1)
        where = cmds[ran] if ran >= 0 else None
        problems.append(
            f"the examples stopped with status {proc.returncode}"
            + (f" at README line {where.line}:\n$ {where.text}\n{printed[ran].strip()[:2000]}" if where else "")
            + f"\nstderr:\n{proc.stderr[-3000:]}")
    return problems
