"""The notebooks of examples/notebooks run top to bottom in a fresh kernel (nbclient), each in
a few seconds, and are committed without outputs (what a notebook shows is made by running it,
never stored beside it).

The trace-driven notebook reads the real traces ($COINFER_TRACE_DIR, else ../shared/traces
beside the checkout); without them it is skipped, as the docs' commands that need them are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
TRACES = Path(os.environ.get("COINFER_TRACE_DIR", ROOT.parent / "shared" / "traces"))


def test_there_are_three_notebooks():
    assert [path.name for path in NOTEBOOKS] == [
        "01-first-run.ipynb",
        "02-policy-comparison.ipynb",
        "03-trace-what-if.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_is_committed_without_outputs(path):
    book = json.loads(path.read_text(encoding="utf-8"))
    for cell in book["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_runs_top_to_bottom(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if "trace" in path.stem and not TRACES.is_dir():
        pytest.skip(f"the real traces are absent (expected at {TRACES})")
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    shown = [
        output
        for cell in book.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type in ("execute_result", "display_data")
    ]
    assert shown, f"{path.name} displayed nothing"
    assert not [o for c in book.cells for o in c.get("outputs", []) if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in shown if "text/html" in o.get("data", {})]
    assert html, f"{path.name}: no rich (HTML) display"
    assert all("Scenario(" not in text for text in html)  # the summary, not the scenario's repr
