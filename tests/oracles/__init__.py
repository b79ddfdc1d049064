"""Reference solvers of (P1) that only the tests (and the benchmarks) use, never the policies.

* :mod:`tests.oracles.dense_grid`: a brute-force reference, nested grids over power and device
  clock with the rest exact; what the tests trust (checked in ``test_dense_grid.py`` here).

It is slow (tenths of a second per problem): the shipped solvers are in ``coinfer.policies``
(``joint_solver`` and the paper's SCA, ``sca``).
"""
