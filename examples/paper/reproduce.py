"""Reproduce the paper's figures (Lyu et al. 2025, Figs. 4–6) for BERT and BART with coinfer.

Run:  python examples/paper/reproduce.py --out DIR [--no-engine] [--no-figures]

Writes to DIR, for each study (``bert``, ``bart``, ``bart-scaled``) and figure (``delay``,
``energy``, ``split``): ``STUDY-FIGURE.csv`` (one row per policy and point) and
``STUDY-FIGURE.png``; and ``shapes.csv`` (the paper's shapes, held or not, and why),
``thresholds.csv`` (the tightest feasible budget of each policy), ``rho-min.csv`` and
``STUDY-raw-input.csv``/``.png`` (the two diagnostics of docs/paper-reproduction.md). Every point
is solved by the policy and then run in the engine in its single device and server mode; the
run fails (exit status 1) if any engine row differs from the solver's prediction. Prints the
shape checks. About 10 s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd

from examples.paper.diagnostics import (
    feasibility_thresholds,
    raw_input_sensitivity,
    rho_min_sensitivity,
)
from examples.paper.figures import plot_figure, plot_raw_input, save
from examples.paper.setting import BART_SCALED, BERT, STUDIES
from examples.paper.shapes import check_study, checks_table
from examples.paper.studies import study_tables


def reproduce(out: Path, engine: bool = True, figures: bool = True) -> pd.DataFrame:
    """Write every table (and figure) to ``out``; return the shape checks."""
    out.mkdir(parents=True, exist_ok=True)
    checks, mismatches = [], []
    for study in STUDIES:
        tables = study_tables(study, engine=engine)
        for figure, table in tables.items():
            stem = f"{study.key}-{figure}"
            table.to_csv(out / f"{stem}.csv", index=False)
            bad = table[~table["engine_match"]]
            mismatches += [f"{stem}: {row.policy} at x={row.x:g}" for row in bad.itertuples()]
            if figures:
                save(plot_figure(study, figure, table), out / f"{stem}.png")
        checks += check_study(study.key, tables)
    shapes = checks_table(checks)
    shapes.to_csv(out / "shapes.csv", index=False)
    pd.concat([feasibility_thresholds(s) for s in STUDIES]).to_csv(
        out / "thresholds.csv", index=False
    )
    pd.concat([rho_min_sensitivity(s) for s in (BERT, BART_SCALED)]).to_csv(
        out / "rho-min.csv", index=False
    )
    for study in (BERT, BART_SCALED):
        raw = raw_input_sensitivity(study)
        raw.to_csv(out / f"{study.key}-raw-input.csv", index=False)
        if figures:
            save(plot_raw_input(raw, study), out / f"{study.key}-raw-input.png")
    if mismatches:
        raise SystemExit(
            "engine rows differ from the solver's prediction at: " + "; ".join(mismatches)
        )
    return shapes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--no-engine", action="store_true", help="policies only, no engine cross-check"
    )
    parser.add_argument("--no-figures", action="store_true", help="tables only")
    args = parser.parse_args(argv)
    shapes = reproduce(args.out, engine=not args.no_engine, figures=not args.no_figures)
    what = "tables" if args.no_figures else "tables and figures"
    checked = "" if args.no_engine else ", every point checked in the engine"
    print(f"wrote {what} to {args.out}/{checked}")
    for row in shapes.itertuples():
        verdict = "holds  " if row.holds else "DOES NOT HOLD"
        print(f"{row.study:12} {row.shape:45} {verdict}  {row.detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
