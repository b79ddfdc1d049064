"""The shapes the paper's figures show (model document, section 7), checked on our data.

Each check returns a :class:`Check`: whether the shape holds in a study and the numbers behind
the verdict. The paper's shapes:

1. ``rises_with_T0``, ``rises_with_E0``: the proposed design's kept fraction rises with the
   budget (never falls, and ends higher than it starts), and no policy's ever falls;
2. ``never_worse``: the proposed design keeps at least as much as every baseline at every point
   of every figure, and is feasible wherever any baseline is;
3. ``beats_<baseline>``: it keeps strictly more than that baseline somewhere (the paper: it
   beats every baseline);
4. ``prune_server_only_infeasible_at_tightest_T0``,
   ``prune_device_only_infeasible_at_tightest_E0``: the baseline has no feasible point at the
   tightest budget of its sweep (and has one at the loosest);
5. ``intermediate_beats_on_device`` / ``intermediate_beats_on_server``: for every budget pair of
   the split figure, the best intermediate split keeps more than split L / split 0.

Kept fractions of infeasible points are NaN in the tables and count as −1 here (worse than any
feasible point). The ``beats_*`` checks look at the budget sweeps (Figs. 4 and 5, split 4), where
the paper compares the baselines; ``never_worse`` at every figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from examples.paper.setting import POLICIES
from examples.paper.studies import series

#: Kept fractions closer than this are a tie.
TIE = 1e-6
#: The kept fraction an infeasible point counts as.
INFEASIBLE = -1.0


@dataclass(frozen=True)
class Check:
    """One shape in one study: does it hold, and why."""

    study: str
    shape: str
    holds: bool
    detail: str


def _kept(rows: pd.DataFrame) -> np.ndarray:
    """Kept fractions, :data:`INFEASIBLE` where infeasible."""
    return np.where(rows["feasible"], rows["kept_fraction"].to_numpy(float), INFEASIBLE)


def _fmt(value: float) -> str:
    return "infeasible" if value == INFEASIBLE else f"{value:.3f}"


def rises(study: str, table: pd.DataFrame, name: str) -> Check:
    """The proposed design's kept fraction rises along a budget sweep; no policy's falls."""
    joint = _kept(series(table, "joint"))
    falls = [policy for policy in POLICIES if np.any(np.diff(_kept(series(table, policy))) < -TIE)]
    rose = joint[-1] > joint[0] + TIE
    holds = rose and not falls
    detail = f"joint {_fmt(joint[0])} -> {_fmt(joint[-1])}"
    if falls:
        detail += f"; falls somewhere: {', '.join(falls)}"
    return Check(study, name, bool(holds), detail)


def never_worse(study: str, tables: dict[str, pd.DataFrame]) -> Check:
    """Joint keeps at least as much as every baseline at every point of every figure."""
    worst, where = np.inf, ""
    for figure, table in tables.items():
        for budgets in table["budgets"].unique() if figure == "split" else [None]:
            joint = _kept(series(table, "joint", budgets))
            for policy in POLICIES[1:]:
                other = _kept(series(table, policy, budgets))
                gaps = np.where(other > INFEASIBLE, joint - other, np.inf)
                if gaps.min() < worst:
                    worst, where = float(gaps.min()), f"{figure} vs {policy}"
    holds = worst >= -TIE
    detail = "no baseline point" if not np.isfinite(worst) else f"least margin {worst:+.2e}"
    return Check(study, "never_worse", bool(holds), f"{detail} ({where})")


def beats(study: str, tables: dict[str, pd.DataFrame], baseline: str) -> Check:
    """In the budget sweeps, joint keeps strictly more than ``baseline`` at some point (or is
    feasible where the baseline is not)."""
    best, infeasible_only = -np.inf, 0
    for figure in ("delay", "energy"):
        joint = _kept(series(tables[figure], "joint"))
        other = _kept(series(tables[figure], baseline))
        infeasible_only += int(np.sum((joint > INFEASIBLE) & (other == INFEASIBLE)))
        feasible = other > INFEASIBLE
        if feasible.any():
            best = max(best, float(np.max((joint - other)[feasible])))
    holds = best > TIE or infeasible_only > 0
    detail = f"largest gain where both are feasible {best:+.3f}" if np.isfinite(best) else ""
    if infeasible_only:
        detail += f"; feasible where it is not at {infeasible_only} points"
    return Check(study, f"beats_{baseline}", bool(holds), detail.lstrip("; "))


def infeasible_at_tightest(study: str, table: pd.DataFrame, policy: str, name: str) -> Check:
    """``policy`` has no feasible point at the tightest budget and one at the loosest."""
    rows = series(table, policy)
    tight, loose = bool(rows["feasible"].iloc[0]), bool(rows["feasible"].iloc[-1])
    holds = not tight and loose
    detail = (
        f"{policy} at x={rows['x'].iloc[0]:g}: {_fmt(_kept(rows)[0])}, "
        f"at x={rows['x'].iloc[-1]:g}: {_fmt(_kept(rows)[-1])}"
    )
    return Check(study, name, holds, detail)


def intermediate_beats(study: str, table: pd.DataFrame, end: str) -> Check:
    """For every budget pair, the best intermediate split beats split 0 (``end="server"``) or
    split L (``end="device"``) for the proposed design."""
    holds, details = True, []
    for budgets in table["budgets"].unique():
        rows = series(table, "joint", budgets)
        splits = rows["x"].to_numpy(float)
        kept = _kept(rows)
        edge = 0 if end == "server" else len(splits) - 1
        inner = kept[1:-1]
        best = int(np.argmax(inner)) + 1
        holds &= bool(inner.max() > kept[edge] + TIE)
        details.append(
            f"{budgets}: split {splits[best]:g} {_fmt(kept[best])} vs "
            f"split {splits[edge]:g} {_fmt(kept[edge])}"
        )
    return Check(study, f"intermediate_beats_on_{end}", holds, "; ".join(details))


def check_study(study: str, tables: dict[str, pd.DataFrame]) -> list[Check]:
    """Every shape for one study's three tables (``delay``, ``energy``, ``split``)."""
    return [
        rises(study, tables["delay"], "rises_with_T0"),
        rises(study, tables["energy"], "rises_with_E0"),
        never_worse(study, tables),
        *(beats(study, tables, baseline) for baseline in POLICIES[1:]),
        infeasible_at_tightest(
            study,
            tables["delay"],
            "prune-server-only",
            "prune_server_only_infeasible_at_tightest_T0",
        ),
        infeasible_at_tightest(
            study,
            tables["energy"],
            "prune-device-only",
            "prune_device_only_infeasible_at_tightest_E0",
        ),
        intermediate_beats(study, tables["split"], "device"),
        intermediate_beats(study, tables["split"], "server"),
    ]


def checks_table(checks: list[Check]) -> pd.DataFrame:
    """Checks as a table: study, shape, holds, detail."""
    return pd.DataFrame([c.__dict__ for c in checks])
