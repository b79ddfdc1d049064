"""The fast exact solver of (P1): one parameter per split, an exact LP on it, a dual bound.

:class:`JointSolver` is what the ``joint`` policy and the baselines built on it call. How it
works, and where each part lives:

* :mod:`~coinfer.policies.joint_family`: per split, the KKT conditions of (P1) (convex in the
  compute and upload times) fix the transmit power and both clocks as functions of one number,
  the ratio Λ of the prices of time and energy (both chips at the common power level
  ``k·f³ = Λ/2`` unless a clock bound clips it). The family is indexed by a virtual power v,
  explicit in Λ, and its points are evaluated in plain floats.
* :mod:`~coinfer.policies.joint_lp`: at each family point what is left is a linear programme in
  the kept fractions ``(ρ, ρ̃)``, solved exactly at its vertices; its multipliers tell which way
  along the family the split's optimum lies.
* :mod:`~coinfer.policies.joint_bound`: one numpy pass evaluates the Lagrangian dual bound of
  every split on a grid of ``ln v``: an upper bound per split (−inf: infeasible), and the cell
  that brackets its optimum.
* :mod:`~coinfer.policies.joint_search`: the splits are refined in the order of their bounds
  until the best point found beats every bound left (usually after one split), by Newton,
  secant and bisection steps on ``ln v``; the point is re-evaluated with
  :meth:`Problem.evaluate` (budgets shrunk by ``BUDGET_MARGIN``).
* :mod:`~coinfer.policies.joint_static`: what depends only on the static fields (hardware,
  bounds, kept parameters per split) is built once per device class and cached by the solver.
* :mod:`~coinfer.policies.joint_least_energy`: :meth:`JointSolver.least_energy`, the least
  energy within the deadline at pinned kept fractions (``no-pruning``).
* :mod:`~coinfer.policies.joint_warm`: given a ``hint`` key (``joint`` with ``warm_start``
  passes the device), the split and ``s`` of that key's previous solution start the
  refinement, and the dual pass is replaced by the dual bound of every split at the point
  found, which certifies it within a relative 1e-9 of the optimum; without a certificate the
  exact path runs. :meth:`JointSolver.solve_fast` is the same from the request's numbers and a
  :class:`~coinfer.policies.joint_fast.FastTable`, without building its :class:`Problem`.

The former search (grids and zooms over split, power and power level) is kept as a test oracle
in ``tests/oracles/grid_search.py``; ``tests/policies/test_joint_solver.py`` compares the solver
with a fine run of it and with the dual bound computed independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coinfer.emulator.compiled import use_compiled
from coinfer.policies.joint_bound import dual_brackets
from coinfer.policies.joint_family import Family
from coinfer.policies.joint_fast import Answer, FastTable, Starts, fast_solve
from coinfer.policies.joint_least_energy import least_energy
from coinfer.policies.joint_search import best_split, reported_solution
from coinfer.policies.joint_static import StaticCache
from coinfer.policies.joint_warm import Hint, warm_solve
from coinfer.policies.problem import Problem, Solution

use_compiled(__name__, __file__)  # its compiled build, if built from this source


@dataclass(frozen=True)
class SolverSizes:
    """How finely the solver works. :meth:`JointSolver.solve` uses the first three,
    :meth:`JointSolver.least_energy` the last three."""

    family_points: int = 24  #: points per split of the grid of the dual bound
    refine_tolerance: float = 1e-11  #: relative gain at which a smooth maximum is taken
    refine_iterations: int = 60  #: most evaluations of the refinement of one split
    power_points: int = 16  #: coarse points over the transmit power (least_energy)
    power_zoom_points: int = 9  #: points of each zoomed power grid (least_energy)
    zooms: int = 3  #: zoom rounds on the power (least_energy)
    hints: int = 65_536  #: previous solutions kept for warm starts (all dropped when full)


class JointSolver:
    """Solves :class:`~coinfer.policies.problem.Problem` instances. Apart from its sizes it keeps
    only what depends on the static fields of the problems it has seen (a bounded cache)."""

    def __init__(self, sizes: SolverSizes | None = None) -> None:
        self.sizes = sizes or SolverSizes()
        self._statics = StaticCache()
        self._hints: dict[object, Hint] = {}
        self.warm_solves = 0  #: solves answered by a certified warm start
        self.exact_solves = 0  #: solves that ran the exact path

    def solve(self, problem: Problem, hint: object = None, warm: bool = True) -> Solution:
        """The point with the most kept parameters over every split of ``problem``, or
        :meth:`Solution.infeasible` if no point meets both budgets.

        ``hint``: a hashable key (e.g. the device) whose previous solution starts this one
        (:mod:`~coinfer.policies.joint_warm`); the answer is then certified within a relative
        1e-9 of the optimum, else solved the exact way. None: the exact way. ``warm=False``:
        the exact way, though the hint is still left for the next (after :meth:`solve_fast`).
        """
        if len(problem.splits) == 0:
            return Solution.infeasible()
        sizes = self.sizes
        family = Family(problem, self._statics.get(problem))
        found = None
        previous = None if hint is None else self._hints.get(hint)
        if previous is not None and warm:
            found = warm_solve(family, previous, sizes.refine_tolerance, sizes.refine_iterations)
        if found is None:
            self.exact_solves += 1
            brackets = dual_brackets(family, sizes.family_points)
            found = best_split(family, brackets, sizes.refine_tolerance, sizes.refine_iterations)
        else:
            self.warm_solves += 1
        if found is None or not math.isfinite(found.point.value):
            return Solution.infeasible()
        point = found.point
        if hint is not None:
            if len(self._hints) >= sizes.hints:
                self._hints.clear()
            self._hints[hint] = Hint(int(problem.splits[found.split.index]), point.s)
        return reported_solution(
            problem,
            found.split.index,
            point.rho_device,
            point.rho_server,
            point.tx_power_w,
            point.f_device_hz,
            point.f_server_hz,
        )

    def solve_fast(
        self,
        table: FastTable,
        hint: object,
        gain: float,
        bandwidth_hz: float,
        noise_psd_w_per_hz: float,
        work_scale: float,
        scale_payload: bool,
        deadline_s: float,
        energy_budget_j: float,
    ) -> Answer | None:
        """The certified solution of the problem of ``table`` at these per-request numbers
        (:mod:`~coinfer.policies.joint_fast`: no :class:`Problem` built), searched from where
        the solutions of ``hint`` (else of the last key solved on ``table``) were; None when
        there is none yet or no certificate: then call :meth:`solve` with ``warm=False`` on
        the request's problem, then :meth:`remember`."""
        starts = table.starts.get(hint)
        if starts is None:
            last = table.starts.get(None)
            if last is None:
                return None
            starts = Starts(last.row, len(last.s))
            starts.place(last.row, last.s[last.row])
            if len(table.starts) >= self.sizes.hints:
                table.starts.clear()
            table.starts[hint] = starts
        sizes = self.sizes
        solution = fast_solve(
            table,
            starts,
            gain,
            bandwidth_hz,
            noise_psd_w_per_hz,
            work_scale,
            scale_payload,
            deadline_s,
            energy_budget_j,
            sizes.refine_tolerance,
            sizes.refine_iterations,
        )
        if solution is None:
            return None
        self.warm_solves += 1
        table.starts[None] = starts
        return solution

    def remember(self, table: FastTable, hint: object) -> None:
        """Start ``hint``'s next :meth:`solve_fast` where its last :meth:`solve` ended."""
        previous = self._hints.get(hint)
        if previous is None or previous.split not in table.rows:
            return
        row = table.rows[previous.split]
        starts = table.starts.get(hint)
        if starts is None:
            if len(table.starts) >= self.sizes.hints:
                table.starts.clear()
            starts = table.starts[hint] = Starts(row, len(table.splits))
        starts.row = row
        starts.place(row, previous.s)
        table.starts[None] = starts

    def least_energy(self, problem: Problem) -> Solution:
        """The point of least energy meeting the deadline at the LOWEST kept fractions allowed
        (for policies whose pruning is pinned, ``no-pruning``): feasible when that energy is
        within E0. See :mod:`~coinfer.policies.joint_least_energy`."""
        sizes = self.sizes
        return least_energy(problem, sizes.power_points, sizes.power_zoom_points, sizes.zooms)
