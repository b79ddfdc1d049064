"""The trace columns that must add up to a request's totals (the decomposition invariant), read
from the trace's declaration, where each part names the totals it adds up to.

The engine builds every row by name from that declaration, so a part it does not give fails its
import; a part it fills wrongly, or a stage whose time is not declared as a part of ``latency_s``,
breaks the sums checked here (``latency_s`` is also checked against ``t_done − t_arrival``, which
no part enters). Which columns are parts is pinned in ``tests/emulator/test_trace.py``.
"""

import numpy as np
import pandas as pd

from coinfer.emulator.trace.columns import TOKENS, TRACE

LATENCY_COMPONENTS = list(TRACE.parts_of("latency_s"))
ENERGY_COMPONENTS = list(TRACE.parts_of("energy_total_j"))


def assert_parts_add_up(trace: pd.DataFrame, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Row by row, every declared total equals the sum of its parts (relative ``rtol``, absolute
    ``atol`` in the total's unit)."""
    for total in TRACE.totals():
        parts = list(TRACE.parts_of(total))
        np.testing.assert_allclose(
            trace[parts].sum(axis=1), trace[total], rtol=rtol, atol=atol, err_msg=total
        )


def assert_generative_parts_add_up(
    trace: pd.DataFrame, tokens: pd.DataFrame | None = None, rtol: float = 1e-9, atol: float = 1e-12
) -> None:
    """:func:`assert_parts_add_up` on a generative run's trace, and on its token table (each
    token's gap parts add up to its gap), if given."""
    assert_parts_add_up(trace, rtol, atol)
    if tokens is None:
        return
    for total in TOKENS.totals():
        parts = list(TOKENS.parts_of(total))
        np.testing.assert_allclose(
            tokens[parts].sum(axis=1), tokens[total], rtol=rtol, atol=atol, err_msg=total
        )
