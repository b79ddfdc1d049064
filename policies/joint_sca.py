"""``joint-sca``: the paper's own algorithm (successive convex approximation) as a policy.

The same problem as ``joint``, solved split by split with :func:`policies.sca.solve_sca_all`
(documented start: a phase 1 at the largest common kept fraction that is feasible; stop: relative
improvement under ``tolerance`` with kept fractions settled, or ``max_iterations`` steps). It is
the reference the fast solver is tested against, and slow (tens to hundreds of milliseconds per
decision): use it to check ``joint``, not for long runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from coinfer.policies.joint import JointParams, OptimisingPolicy
from coinfer.policies.problem import Problem, Solution


class JointScaParams(JointParams):
    """``joint`` parameters plus the SCA's stopping rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tolerance: float = Field(
        default=1e-7, gt=0.0, lt=1.0, description="stop when a step improves kept params less"
    )
    max_iterations: int = Field(
        default=1000, ge=1, le=100_000, description="convex steps at most per split"
    )


class JointScaPolicy(OptimisingPolicy[JointScaParams]):
    """``joint-sca``: the paper's SCA per split, the best split kept."""

    name = "joint-sca"
    summary = "the paper's successive convex approximation for the joint design (reference; slow)"
    Params = JointScaParams

    def solve(self, problem: Problem) -> Solution:
        from coinfer.policies.sca import DEFAULTS, solve_sca_all  # scipy: imported on first use

        params: Any = self.params
        settings = DEFAULTS.__class__(
            **{
                **DEFAULTS.__dict__,
                "tolerance": params.tolerance,
                "max_iterations": params.max_iterations,
            }
        )
        return solve_sca_all(problem, settings)
