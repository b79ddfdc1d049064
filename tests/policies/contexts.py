"""A policy context for unit tests: the paper's device, server and BERT, idle queues."""

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.policies.base import PolicyContext

HARDWARE = HardwareCatalog.builtin()
BERT = ModelCatalog.builtin().get("bert-paper")


def context(**changes) -> PolicyContext:
    values = dict(
        request_id=0,
        time_s=0.0,
        device_id="d-0",
        work_scale=1.0,
        scale_payload=True,
        deadline_s=0.26,
        energy_budget_j=0.5,
        model=BERT,
        device=HARDWARE.get("paper-device"),
        server=HARDWARE.get("paper-server"),
        gain=2.77e-11,
        mean_gain=2.77e-11,
        bandwidth_hz=5e6,
        cell_bandwidth_hz=5e6,
        noise_psd_w_per_hz=2e-19,
        uplink_active=0,
        device_queue_length=0,
        device_backlog_s=0.0,
        server_queue_length=0,
        server_in_service=0,
        server_workers=1,
        server_backlog_s=0.0,
    )
    values.update(changes)
    return PolicyContext(**values)
