"""Every command and Python snippet shown in README.md and docs/ runs as shown.

Shell commands are the ``$ ``-prefixed lines of ```console blocks; the install and test commands
themselves are skipped (CI runs them around this suite). Python blocks are executed in a fresh
namespace.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN_HERE = ("pip install", "python -m pytest")
SHARED_TRACES = ROOT.parent / "shared" / "traces"  # real traces, beside the checkout
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCUMENTS:
        for lang, body in FENCE.findall(doc.read_text(encoding="utf-8")):
            if lang == language:
                found.append((doc.relative_to(ROOT).as_posix(), body))
    return found


SLOW_NOTE = re.compile(r"\s+#\s*slow\b.*$")


def shown_commands() -> list:
    """``(doc, command)`` for every shown command; one ending in ``# slow ...`` is marked slow
    (run with ``-m slow``), so that the default suite stays quick."""
    commands = []
    for doc, body in blocks("console"):
        for line in body.splitlines():
            if line.startswith("$ "):
                command = line[2:].strip()
                if command.startswith(NOT_RUN_HERE):
                    continue
                if SLOW_NOTE.search(command):
                    command = SLOW_NOTE.sub("", command)
                    commands.append(pytest.param(doc, command, marks=pytest.mark.slow))
                else:
                    commands.append((doc, command))
    return commands


def argv_for(command: str) -> list[str]:
    argv = shlex.split(command)
    if argv[0] == "coinfer":
        script = shutil.which("coinfer")
        return (
            [script, *argv[1:]]
            if script
            else [sys.executable, "-m", "coinfer.emulator.cli.main", *argv[1:]]
        )
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    raise AssertionError(f"docs show a command this test does not know how to run: {command}")


def test_the_docs_show_commands_at_all():
    assert len(shown_commands()) >= 5


@pytest.mark.parametrize(("doc", "command"), shown_commands(), ids=lambda v: str(v)[:60])
def test_shown_command_runs(doc, command):
    if "../shared/traces" in command and not SHARED_TRACES.is_dir():
        pytest.skip(f"the real traces are absent (expected at {SHARED_TRACES})")
    result = subprocess.run(
        argv_for(command), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{doc}: `{command}` failed:\n{result.stderr}"
    assert result.stdout.strip(), f"{doc}: `{command}` printed nothing"


@pytest.mark.parametrize(("doc", "code"), blocks("python"), ids=lambda v: str(v)[:40])
def test_shown_python_runs(doc, code, capsys):
    exec(compile(code, doc, "exec"), {"__name__": "__docs__"})


def test_the_docs_tables_of_columns_are_generated_from_the_declarations():
    """Every table of columns in the docs is what its declaration gives (and the engine doc
    shows the trace's): a column added, renamed or redescribed without regenerating fails."""
    from coinfer.emulator.trace.docs import blocks, render

    shown = {}
    for path in sorted((ROOT / "docs").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for name in blocks(text):
            shown[name] = path.name
        assert render(text) == text, (
            f"{path.name}: a table of columns is out of date; run "
            f"python -m coinfer.emulator.trace.docs docs/{path.name}"
        )
    assert shown.get("trace") == "engine.md"
