"""How the suite is split between xdist workers (``-n auto``): in work units.

A work unit goes to one worker as a whole, its tests in the order they were collected. Most
tests are a unit of their own, as under xdist's ``--dist load``; two kinds are kept together:

* the commands shown in one document (``tests/test_docs.py``): a reader runs them from top to
  bottom, and a later one may read what an earlier one wrote;
* the tests of a module in ``SHARED_FIXTURES``: they share a module-scoped fixture that takes
  seconds to compute (long simulations, solved instances); on one worker it is computed once.

(xdist's own ``xdist_group`` mark would say the same, but ``--dist loadgroup`` ignores it with
pytest 9.2: pytest-dev/pytest-xdist#1386.)
"""

from __future__ import annotations

import re

SHARED_FIXTURES = (
    "tests/emulator/test_compiled.py",  # every hot module imported afresh in Python, inlined
    "tests/emulator/test_engine_queueing.py",  # M/M/1, M/D/1 and M/M/3 runs of 60k-150k requests
    "tests/emulator/test_engine_uplink.py",  # FIFO uplink runs of 60k requests
    "tests/paper/test_multi_user.py",  # the multi-user study's sweep
    "tests/paper/test_reproduction.py",  # the paper's figures, every point also in the engine
    "tests/policies/test_sca.py",  # random instances solved by SCA and by the dense grid
)

SHOWN_COMMAND = re.compile(r"(tests/test_docs\.py)::test_shown_command_runs\[(.+?\.md):")


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to: the document whose command it runs, its module when that is
    in ``SHARED_FIXTURES``, else the test itself."""
    module = nodeid.split("::", 1)[0]
    if module in SHARED_FIXTURES:
        return module
    if shown := SHOWN_COMMAND.match(nodeid):
        return f"{shown[1]}::{shown[2]}"
    return nodeid
