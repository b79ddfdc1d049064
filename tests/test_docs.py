"""Every command and Python snippet shown in README.md and docs/ runs as shown.

Shell commands are the ``$ ``-prefixed lines of ```console blocks; the install and test commands
themselves are skipped (CI runs them around this suite). Each runs in a process of its own
(``tests/commands.py``: ``coinfer`` lines in a child forked from a Python that has already
imported the command line). Python blocks are executed in a fresh namespace.

The docs show the commands as a user types them at the root of the checkout, and some write
there (``runs/busy-cell-fixed-s7/``, ``sweeps/budgets/``). So that the suite leaves the checkout
clean, each document's commands run instead in a workspace of its own under ``tmp_path``: a copy
of the folders the commands read (``examples/``, ``benchmarks/``), with ``../shared`` beside it
linking to the real traces, so that the relative paths of the docs mean what they mean at the root.

A document is read from top to bottom: a command may use what an earlier one wrote
(``coinfer plot sweeps/budgets`` after ``coinfer sweep examples/sweeps/budgets.yaml``). Under
xdist a document's commands are one work unit (``tests/scheduling.py``), so they run in order in
one workspace; a command run on its own (``-k``, ``-m slow``) first runs the earlier ones.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.commands import Commands

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN_HERE = ("pip install", "python -m pytest")
SHARED = ROOT.parent / "shared"  # beside the checkout, as ../shared
SHARED_TRACES = SHARED / "traces"  # the real traces
COPIED = ("examples", "benchmarks")  # what the shown commands read of the checkout
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SLOW_NOTE = re.compile(r"\s+#\s*slow\b.*$")


def blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCUMENTS:
        for lang, body in FENCE.findall(doc.read_text(encoding="utf-8")):
            if lang == language:
                found.append((doc.relative_to(ROOT).as_posix(), body))
    return found


@dataclass(frozen=True)
class Shown:
    """One shown command: the document, its place among the document's commands, the command
    without its ``# slow ...`` note, and whether it had one (then it runs with ``-m slow``)."""

    doc: str
    index: int
    command: str
    slow: bool

    def needs_the_real_traces(self) -> bool:
        return "../shared/traces" in self.command


def shown_commands() -> list[Shown]:
    commands: list[Shown] = []
    for doc, body in blocks("console"):
        for line in body.splitlines():
            if not line.startswith("$ "):
                continue
            command = line[2:].strip()
            if command.startswith(NOT_RUN_HERE):
                continue
            index = sum(1 for shown in commands if shown.doc == doc)
            slow = bool(SLOW_NOTE.search(command))
            commands.append(Shown(doc, index, SLOW_NOTE.sub("", command), slow))
    return commands


SHOWN = shown_commands()


def as_param(shown: Shown):
    """The test's id is ``<doc>: <command>`` (``tests/scheduling.py`` reads the document)."""
    marks = [pytest.mark.slow] if shown.slow else []
    return pytest.param(shown, marks=marks, id=f"{shown.doc}: {shown.command}"[:70])


class Workspace:
    """Where one document's commands run: ``<tmp>/checkout`` holds a copy of the folders they
    read, ``<tmp>/shared`` links to the real ``../shared`` when there is one."""

    def __init__(self, parent: Path, commands: Commands):
        self.commands = commands
        self.root = parent / "checkout"
        self.root.mkdir()
        for folder in COPIED:
            shutil.copytree(
                ROOT / folder, self.root / folder, ignore=shutil.ignore_patterns("__pycache__")
            )
        if SHARED.is_dir():
            (parent / "shared").symlink_to(SHARED.resolve(), target_is_directory=True)
        self.ran: set[int] = set()  # indices of the document's commands run here

    def run(self, shown: Shown) -> subprocess.CompletedProcess:
        self.ran.add(shown.index)
        return self.commands.run(shown.command, cwd=self.root)

    def catch_up(self, shown: Shown) -> None:
        """Run the document's earlier commands not yet run here (the slow ones only before a
        slow command), as a reader following the document would have."""
        for earlier in SHOWN:
            if earlier.doc != shown.doc or earlier.index >= shown.index:
                continue
            if earlier.index in self.ran or (earlier.slow and not shown.slow):
                continue
            if earlier.needs_the_real_traces() and not SHARED_TRACES.is_dir():
                continue
            result = self.run(earlier)
            assert result.returncode == 0, (
                f"{shown.doc}: `{earlier.command}`, shown before `{shown.command}`, failed:\n"
                f"{result.stderr}"
            )


@pytest.fixture(scope="session")
def commands(tmp_path_factory):
    """Runs the shown command lines (``tests/commands.py``): one fork server per process."""
    commands = Commands(tmp_path_factory.mktemp("commands"))
    yield commands
    commands.close()


@pytest.fixture(scope="session")
def workspace_of(tmp_path_factory, commands):
    """``workspace_of(doc)``: the document's workspace, made on first use (one per process)."""
    made: dict[str, Workspace] = {}

    def workspace_of(doc: str) -> Workspace:
        if doc not in made:
            made[doc] = Workspace(tmp_path_factory.mktemp(Path(doc).stem), commands)
        return made[doc]

    return workspace_of


def test_the_docs_show_commands_at_all():
    assert len(SHOWN) >= 5


@pytest.mark.parametrize("shown", [as_param(shown) for shown in SHOWN])
def test_shown_command_runs(shown, workspace_of):
    if shown.needs_the_real_traces() and not SHARED_TRACES.is_dir():
        pytest.skip(f"the real traces are absent (expected at {SHARED_TRACES})")
    workspace = workspace_of(shown.doc)
    workspace.catch_up(shown)
    result = workspace.run(shown)
    assert result.returncode == 0, f"{shown.doc}: `{shown.command}` failed:\n{result.stderr}"
    assert result.stdout.strip(), f"{shown.doc}: `{shown.command}` printed nothing"


@pytest.mark.parametrize(("doc", "code"), blocks("python"), ids=lambda v: str(v)[:40])
def test_shown_python_runs(doc, code, workspace_of, monkeypatch, capsys):
    monkeypatch.chdir(workspace_of(doc).root)
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


def test_the_readme_runs_the_tests_as_ci_does():
    """The README's test command is the one .ci/run ends with, after installing the same extras."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Run the tests\n", 1)[1].split("\n## ", 1)[0]
    install, test = [line[2:] for line in section.splitlines() if line.startswith("$ ")][:2]
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert test == ci[-1] == "python -m pytest"
    ci_install = next(line for line in ci if "pip install" in line and " -e " in line)
    extras = re.compile(r"\.\[([\w,-]+)\]")
    assert extras.search(install)[1] == extras.search(ci_install)[1]


LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_relative_link_and_figure_of_the_docs_is_a_file_of_the_checkout():
    """``[text](path)`` and ``![figure](figures/NAME.png)``: the path (without its ``#anchor``)
    exists beside the document, so a figure the docs show is committed with them."""
    missing = []
    for doc in DOCUMENTS:
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            if not (doc.parent / target.split("#", 1)[0]).exists():
                missing.append(f"{doc.relative_to(ROOT).as_posix()}: {target}")
    assert not missing
