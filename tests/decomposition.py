"""The trace columns that must add up to a request's totals (the decomposition invariant).

Written out here, independently of the engine's own lists, so that a column the engine forgets
to fill or to count makes the invariant tests fail.
"""

LATENCY_COMPONENTS = [
    "latency_device_queue_s",
    "latency_device_compute_s",
    "latency_uplink_s",
    "latency_backhaul_s",
    "latency_server_queue_s",
    "latency_server_compute_s",
    "latency_downlink_s",
]
ENERGY_COMPONENTS = ["energy_device_compute_j", "energy_uplink_j", "energy_server_j"]
