"""Every bad input of the corpus (``cases.yaml``) is refused as promised: exit status 2, one line
on stderr that names the field or the file, no traceback, within seconds, and nothing written.

The cases run in-process, each in a scratch folder of its own holding ``s.yaml`` (the paper's
single-device scenario), ``sweep.yaml`` (two short runs of it) and the case's own files.
"""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from coinfer.emulator.cli.main import main

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES: list[dict[str, Any]] = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))
#: Longest a refusal may take, s: bad input is refused before any work starts.
REFUSAL_TIMEOUT_S = 20
SWEEP = """name: tiny
base: s.yaml
set: {requests: 2}
policies: [fixed]
seeds: {start: 1, count: 1}
"""


def _write_files(folder: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif "copy" in content:
            shutil.copy(ROOT / content["copy"], path)
        elif "hex" in content:
            path.write_bytes(bytes.fromhex(content["hex"]))
        else:
            path.write_bytes(content["text"].encode(content["encoding"]))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


class _TooSlowError(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _TooSlowError


def test_the_corpus_covers_every_class_of_the_issue():
    classes = {case["class"] for case in CASES}
    assert classes == {"numbers", "unseen", "files", "yaml", "paths", "messages", "scale", "writes"}
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "case ids are unique"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_a_bad_input_is_refused_cleanly(case, tmp_path, monkeypatch, capsys):
    shutil.copy(ROOT / "examples/scenarios/paper-single.yaml", tmp_path / "s.yaml")
    (tmp_path / "sweep.yaml").write_text(SWEEP, encoding="utf-8")
    _write_files(tmp_path, case.get("files", {}))
    before = _snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(REFUSAL_TIMEOUT_S)
    try:
        status = main([str(arg) for arg in case["argv"]])
    except SystemExit as done:  # a usage error, from the argument parser
        status = done.code
    except _TooSlowError:
        pytest.fail(f"not refused within {REFUSAL_TIMEOUT_S} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capsys.readouterr()
    assert status == 2, f"exit status {status}; stdout {out!r}; stderr {err!r}"
    assert "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("coinfer: error: "), err
    assert re.search(case["expect"], lines[0]), lines[0]
    assert _snapshot(tmp_path) == before, "nothing is written, nothing changed"
    assert not (tmp_path.parent / "escaped").exists()
