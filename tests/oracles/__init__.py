"""Reference solvers of (P1) that only the tests (and the benchmarks) use, never the policies.

* :mod:`tests.oracles.dense_grid`: a brute-force reference, nested grids over power and device
  clock with the rest exact; what the tests trust (checked in ``test_dense_grid.py`` here).
* :mod:`tests.oracles.grid_search`: the joint solver's former search, grids and zooms over
  split, power and power level; an independent cross-check of the fast solver.

Both are slow (tens to hundreds of milliseconds per problem): the shipped solvers are in
``coinfer.policies`` (``joint_solver`` and the paper's SCA, ``sca``).
"""
