"""Edge deployment topologies described as networkx graphs (see ``docs/topologies.md``).

One module per step, from a scenario's ``topology`` section to the engine's deployment:

* :mod:`topologies.config`: the scenario section (a generator and its parameters, or a file);
* :mod:`topologies.specs`: the typed node and edge attributes of a topology graph;
* :mod:`topologies.generators`: paper, disc, hexagonal, random geometric, device-edge-cloud;
  with :mod:`topologies.geometry` (placing points) and :mod:`topologies.mix` (class mixtures);
* :mod:`topologies.io`: GraphML and node-link JSON files;
* :mod:`topologies.validate`: checking a graph node by node and edge by edge;
* :mod:`topologies.association` and :mod:`topologies.routing`: attaching devices to access
  points, and the wired paths from access points to servers;
* :mod:`topologies.build`: all of the above into an :class:`emulator.deployment.Deployment`;
* :mod:`topologies.stats` and :mod:`topologies.draw`: summaries and pictures.

Importing this package is cheap: networkx and matplotlib load only with the modules that need
them.
"""
