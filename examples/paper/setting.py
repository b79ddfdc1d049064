"""The paper's three studies (Lyu et al. 2025, Sec. VI; model document, section 7) as data.

For each model: the kept fraction and distortion bound against the latency budget T0 (Fig. 4
ranges, E0 fixed), against the energy budget E0 (Fig. 5 ranges, T0 fixed), both at split 4, and
against the split point (Fig. 6). Budgets in SI units: T0 in seconds, E0 in joules.

Three studies:

* ``bert``: BERT (``bert-paper``) at the paper's budgets;
* ``bart``: BART (``bart-paper``) at the paper's budgets;
* ``bart-scaled``: BART at BERT's budgets scaled by the ratio of the two models' FLOPs
  (6.44 / 21.77): this project's extension, because at the paper's BART budgets every point is
  feasible without pruning (docs/paper-reproduction.md).

The split-point figure is not given budgets by the paper; it uses the middle of each budget
sweep (**[project choice]**): (T0 of the middle of the delay sweep, its E0) and (the energy
sweep's T0, the middle of its E0 range).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The proposed design and the paper's four ablation baselines, in plotting order.
POLICIES: tuple[str, ...] = (
    "joint",
    "fixed-power",
    "fixed-frequency",
    "prune-device-only",
    "prune-server-only",
)
#: How the paper names them.
LABELS: dict[str, str] = {
    "joint": "proposed (joint)",
    "fixed-power": "fixed power",
    "fixed-frequency": "fixed frequency",
    "prune-device-only": "prune device only",
    "prune-server-only": "prune server only",
}
#: Parameters every policy gets: decisions solved exactly (no decision-cache rounding).
EXACT: dict[str, float] = {"channel_step_db": 0.0}
#: The paper's split for the budget sweeps: after block 4 (of BERT's 12; of BART's 6 encoder
#: layers, i.e. block 4 of BART's 12 layers counted encoder first).
BUDGET_SPLIT = 4
#: BART's FLOPs over BERT's, per pass (6.44 / 21.77 GFLOPs): the scale of ``bart-scaled``.
BART_OVER_BERT_FLOPS = 6.44 / 21.77


@dataclass(frozen=True)
class Sweep:
    """One budget axis: ``values`` of the swept budget, the other budget fixed at ``fixed``."""

    axis: str  #: "deadline_s" (T0, s) or "energy_budget_j" (E0, J)
    values: tuple[float, ...]
    fixed: float  #: E0 (J) for a delay sweep, T0 (s) for an energy sweep

    def budgets(self, value: float) -> tuple[float, float]:
        """(T0 s, E0 J) of one point."""
        return (value, self.fixed) if self.axis == "deadline_s" else (self.fixed, value)

    def scaled(self, factor: float) -> Sweep:
        """Every budget times ``factor``."""
        return Sweep(self.axis, tuple(v * factor for v in self.values), self.fixed * factor)


@dataclass(frozen=True)
class Study:
    """One model's three figures."""

    key: str  #: file-name prefix: "bert", "bart", "bart-scaled"
    model: str  #: model profile name
    title: str
    paper_ranges: bool  #: the paper's own budgets (False: this project's extension)
    delay: Sweep  #: Fig. 4: T0 at fixed E0
    energy: Sweep  #: Fig. 5: E0 at fixed T0
    splits: tuple[int, ...]  #: Fig. 6: split points
    split_budgets: tuple[tuple[float, float], ...]  #: Fig. 6: (T0 s, E0 J) pairs

    @property
    def tightest_delay(self) -> float:
        return min(self.delay.values)

    @property
    def tightest_energy(self) -> float:
        return min(self.energy.values)


def _grid(low: float, high: float, points: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(np.linspace(low, high, points), 12))


def _split_budgets(delay: Sweep, energy: Sweep) -> tuple[tuple[float, float], ...]:
    middle = len(delay.values) // 2
    return (
        (delay.values[middle], delay.fixed),
        (energy.fixed, energy.values[len(energy.values) // 2]),
    )


BERT_DELAY = Sweep("deadline_s", _grid(0.22, 0.26, 9), 0.015)
BERT_ENERGY = Sweep("energy_budget_j", _grid(0.006, 0.010, 9), 0.35)
BART_DELAY = Sweep("deadline_s", _grid(0.11, 0.15, 9), 0.0225)
BART_ENERGY = Sweep("energy_budget_j", _grid(0.005, 0.009, 9), 0.22)

BERT = Study(
    key="bert",
    model="bert-paper",
    title="BERT",
    paper_ranges=True,
    delay=BERT_DELAY,
    energy=BERT_ENERGY,
    splits=(0, 3, 6, 9, 12),
    split_budgets=_split_budgets(BERT_DELAY, BERT_ENERGY),
)
BART = Study(
    key="bart",
    model="bart-paper",
    title="BART",
    paper_ranges=True,
    delay=BART_DELAY,
    energy=BART_ENERGY,
    splits=tuple(range(7)),  # only the encoder is split: 0..6
    split_budgets=_split_budgets(BART_DELAY, BART_ENERGY),
)
BART_SCALED = Study(
    key="bart-scaled",
    model="bart-paper",
    title="BART, budgets: BERT's × 6.44/21.77",
    paper_ranges=False,
    delay=BERT_DELAY.scaled(BART_OVER_BERT_FLOPS),
    energy=BERT_ENERGY.scaled(BART_OVER_BERT_FLOPS),
    splits=tuple(range(7)),
    split_budgets=_split_budgets(
        BERT_DELAY.scaled(BART_OVER_BERT_FLOPS), BERT_ENERGY.scaled(BART_OVER_BERT_FLOPS)
    ),
)
STUDIES: tuple[Study, ...] = (BERT, BART, BART_SCALED)
