"""What-if studies at scale: sweeps over scenario fields, policies and seeds.

A sweep file names a base scenario, the fields to vary (as a grid of axes or an explicit list of
points), the policies to compare and the seeds. Every run is a pure function of its resolved
scenario and seed, so it is identified by a hash of both, and a sweep re-run skips the runs it
already finished. The modules, one job each:

* :mod:`~coinfer.emulator.sweeps.spec`: the sweep file's schema and loading;
* :mod:`~coinfer.emulator.sweeps.ids`: canonical JSON and the stable configuration and run ids;
* :mod:`~coinfer.emulator.sweeps.plan`: expanding a sweep into configurations × seeds;
* :mod:`~coinfer.emulator.sweeps.store`: the output directory's layout and atomic writes;
* :mod:`~coinfer.emulator.sweeps.metrics`: the small summary one run returns;
* :mod:`~coinfer.emulator.sweeps.worker`: executing one run (what a worker process calls);
* :mod:`~coinfer.emulator.sweeps.executors`: serial, local processes and Dask behind one seam;
* :mod:`~coinfer.emulator.sweeps.runner`: running a plan with resume and a progress bar;
* :mod:`~coinfer.emulator.sweeps.aggregate`: per-run table and mean ± 95 % CI per configuration;
* :mod:`~coinfer.emulator.sweeps.plots`: latency CDF, load, Pareto, breakdown and distortion
figures.
"""
