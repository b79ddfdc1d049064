"""The data of every figure: budget sweeps (Figs. 4 and 5) and split sweeps (Fig. 6).

Each row is one point (:func:`examples.paper.points.evaluate`) with the study, the figure, the
policy and the x value. ``figure`` is ``delay`` (x = T0, s), ``energy`` (x = E0, J) or ``split``
(x = the split point; one series per budget pair, ``budgets`` = "T0=…ms E0=…mJ").
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from examples.paper.points import evaluate
from examples.paper.setting import BUDGET_SPLIT, EXACT, POLICIES, STUDIES, Study, Sweep

FIGURES = ("delay", "energy", "split")


def budget_label(deadline_s: float, energy_budget_j: float) -> str:
    """``T0=240ms E0=15mJ``: how a split figure names one budget pair (3 digits)."""
    return f"T0={deadline_s * 1e3:.3g}ms E0={energy_budget_j * 1e3:.3g}mJ"


def _sweep_rows(study: Study, figure: str, sweep: Sweep, engine: bool) -> list[dict]:
    rows = []
    params = {"splits": [BUDGET_SPLIT], **EXACT}
    for policy in POLICIES:
        for value in sweep.values:
            deadline, energy = sweep.budgets(value)
            point = evaluate(study.model, policy, params, deadline, energy, engine=engine)
            rows.append(
                {
                    "study": study.key,
                    "model": study.model,
                    "figure": figure,
                    "policy": policy,
                    "x": value,
                    "budgets": budget_label(deadline, energy),
                    **point,
                }
            )
    return rows


def _split_rows(study: Study, engine: bool) -> list[dict]:
    rows = []
    for deadline, energy in study.split_budgets:
        for policy in POLICIES:
            for split in study.splits:
                params = {"splits": [split], **EXACT}
                point = evaluate(study.model, policy, params, deadline, energy, engine=engine)
                rows.append(
                    {
                        "study": study.key,
                        "model": study.model,
                        "figure": "split",
                        "policy": policy,
                        "x": float(split),
                        "budgets": budget_label(deadline, energy),
                        **point,
                    }
                )
    return rows


def study_tables(study: Study, engine: bool = True) -> dict[str, pd.DataFrame]:
    """``{figure: table}`` for one study (figures ``delay``, ``energy``, ``split``)."""
    return {
        "delay": pd.DataFrame(_sweep_rows(study, "delay", study.delay, engine)),
        "energy": pd.DataFrame(_sweep_rows(study, "energy", study.energy, engine)),
        "split": pd.DataFrame(_split_rows(study, engine)),
    }


def all_tables(studies: Iterable[Study] = STUDIES, engine: bool = True) -> dict[str, pd.DataFrame]:
    """``{"bert-delay": table, ...}`` for every study and figure."""
    tables = {}
    for study in studies:
        for figure, table in study_tables(study, engine).items():
            tables[f"{study.key}-{figure}"] = table
    return tables


def series(table: pd.DataFrame, policy: str, budgets: str | None = None) -> pd.DataFrame:
    """One policy's points of a figure (and of one budget pair, for a split figure), by x."""
    chosen = table[table["policy"] == policy]
    if budgets is not None:
        chosen = chosen[chosen["budgets"] == budgets]
    return chosen.sort_values("x")
