"""coinfer: discrete-event emulator for split large-AI-model inference at the wireless edge.

The ``emulator`` package holds the reference model (pure closed-form functions), the model
profiles, the hardware catalog and the command line. Everything inside uses SI units: seconds,
joules, watts, hertz, bits and FLOPs.
"""

__version__ = "0.1.0"
