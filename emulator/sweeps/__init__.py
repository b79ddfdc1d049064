"""What-if studies at scale: sweeps over scenario fields, policies and seeds.

A sweep file names a base scenario, the fields to vary (as a grid of axes or an explicit list of
points), the policies to compare and the seeds. Every run is a pure function of its resolved
scenario and seed, so it is identified by a hash of both, and a sweep re-run skips the runs it
already finished. The modules, one job each:

* :mod:`~emulator.sweeps.spec`: the sweep file's schema and loading;
* :mod:`~emulator.sweeps.ids`: canonical JSON and the stable configuration and run ids;
* :mod:`~emulator.sweeps.plan`: expanding a sweep into configurations × seeds;
* :mod:`~emulator.sweeps.store`: the output directory's layout and atomic writes;
* :mod:`~emulator.sweeps.metrics`: the small summary one run returns;
* :mod:`~emulator.sweeps.worker`: executing one run (what a worker process calls);
* :mod:`~emulator.sweeps.executors`: serial, local processes and Dask behind one seam;
* :mod:`~emulator.sweeps.runner`: running a plan with resume and a progress bar;
* :mod:`~emulator.sweeps.aggregate`: per-run table and mean ± 95 % CI per configuration;
* :mod:`~emulator.sweeps.plots`: latency CDF, load, Pareto, breakdown and distortion figures.
"""
