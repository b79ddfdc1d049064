"""The reference workload written as a bare SimPy script, the yardstick of issue 20.

What a modeller would write by hand for the workload of ``benchmarks/versus_simpy.py``, with
nothing of coinfer: ``N`` devices in 10 cells (``N / 10`` each), every device a SimPy process
with Poisson arrivals (80 requests/s in total, ``80 / N`` per device); each request uploads
100 kB (800,000 bits) over its cell's 20 MHz band, shared equally among the uploads in
progress (processor sharing: ``B / n`` each), at a rate ``(B/n)·log2(1 + n·γ·|h|²)`` with the
mean SNR ``γ`` = 10 dB over the whole band and a Rayleigh block-fading factor ``|h|² ~ Exp(1)``
per device, constant over blocks of 10 ms (each device at its own random phase); then it is
served first come, first served by its cell's edge server (a ``simpy.Resource``) in 0.1 s (load
0.8: 8 requests/s per server). The cell re-rates its uploads when one starts, ends or crosses a
fading block (one pending wake-up, as any careful SimPy model would). Each finished request
appends its latency to a list; the run stops after ``requests`` arrivals and prints one JSON
line: requests, seconds (wall, from the first event to the end) and the CPU seconds of the
process over the same span, set-up seconds (before the first event), mean latency, peak RSS,
and the SimPy events scheduled (read from SimPy's event counter after the run: nothing is
counted while it runs).

Run:  python benchmarks/bare_simpy.py --devices 1000 --requests 100000 [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import time

import simpy

TOTAL_RATE_PER_S = 80.0
CELLS = 10
BANDWIDTH_HZ = 20e6
MEAN_SNR = 10.0  # 10 dB over the whole band
PAYLOAD_BITS = 800_000.0  # 100 kB
COHERENCE_S = 0.01
SERVICE_S = 0.1  # 8 requests/s per server: load 0.8


class Device:
    """A device's fading: the factor of its current block, drawn when a new block is reached."""

    __slots__ = ("block", "gain", "offset_s")

    def __init__(self, rng: random.Random) -> None:
        self.offset_s = rng.random() * COHERENCE_S
        self.block = -1
        self.gain = 1.0

    def fading(self, now: float, rng: random.Random) -> tuple[float, float]:
        """The factor ``|h|²`` now and the end of its block, s."""
        block = math.floor((now - self.offset_s) / COHERENCE_S)
        if self.offset_s + (block + 1) * COHERENCE_S <= now:  # rounding at a block's end
            block += 1
        if block != self.block:
            self.block = block
            self.gain = rng.expovariate(1.0)
        return self.gain, self.offset_s + (block + 1) * COHERENCE_S


class Upload:
    __slots__ = ("device", "done", "finish_s", "left", "rate")

    def __init__(self, device: Device, done: simpy.Event) -> None:
        self.device = device
        self.done = done
        self.left = PAYLOAD_BITS
        self.rate = 0.0
        self.finish_s = math.inf


class Cell:
    """Processor sharing of the band among the uploads in progress."""

    def __init__(self, env: simpy.Environment, rng: random.Random) -> None:
        self.env = env
        self.rng = rng
        self.uploads: list[Upload] = []
        self.last_s = 0.0
        self.version = 0

    def upload(self, device: Device) -> simpy.Event:
        done = self.env.event()
        self.advance()
        self.uploads.append(Upload(device, done))
        self.rerate()
        return done

    def advance(self) -> None:
        now = self.env.now
        elapsed = now - self.last_s
        for job in self.uploads:
            job.left -= job.rate * elapsed
        self.last_s = now

    def rerate(self) -> None:
        self.version += 1
        n = len(self.uploads)
        if n == 0:
            return
        now = self.env.now
        share = BANDWIDTH_HZ / n
        wake = math.inf
        for job in self.uploads:
            gain, block_end = job.device.fading(now, self.rng)
            job.rate = share * math.log2(1.0 + n * MEAN_SNR * gain)
            job.finish_s = now + job.left / job.rate
            wake = min(wake, job.finish_s, block_end)
        version = self.version
        timer = self.env.timeout(max(wake - now, 0.0))
        timer.callbacks.append(lambda _event: self.wake(version))

    def wake(self, version: int) -> None:
        if version != self.version:
            return
        self.advance()
        remaining = []
        for job in self.uploads:
            if job.finish_s <= self.env.now:
                job.done.succeed()
            else:
                remaining.append(job)
        self.uploads = remaining
        self.rerate()


def request(env, cell, server, device, latencies):
    arrival = env.now
    yield cell.upload(device)
    with server.request() as turn:
        yield turn
        yield env.timeout(SERVICE_S)
    latencies.append(env.now - arrival)


def source(env, rng, device, cell, server, rate, state, latencies):
    while True:
        yield env.timeout(rng.expovariate(rate))
        if state["left"] <= 0:
            return
        state["left"] -= 1
        env.process(request(env, cell, server, device, latencies))


def run(devices: int, requests: int, seed: int) -> dict[str, float]:
    started = time.perf_counter()
    rng = random.Random(seed)
    env = simpy.Environment()
    cells = [Cell(env, rng) for _ in range(CELLS)]
    servers = [simpy.Resource(env, capacity=1) for _ in range(CELLS)]
    rate = TOTAL_RATE_PER_S / devices
    state = {"left": requests}
    latencies: list[float] = []
    for index in range(devices):
        cell = index % CELLS
        device = Device(rng)
        env.process(source(env, rng, device, cells[cell], servers[cell], rate, state, latencies))
    first, first_cpu = time.perf_counter(), time.process_time()
    env.run()
    ended, ended_cpu = time.perf_counter(), time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    events = next(env._eid)  # SimPy numbers every event it schedules: this many were
    return {
        "requests": requests,
        "completed": len(latencies),
        "seconds": ended - first,
        "cpu_seconds": ended_cpu - first_cpu,
        "setup_s": first - started,
        "mean_latency_s": sum(latencies) / len(latencies),
        "peak_rss_mb": peak / 1e6 if sys.platform == "darwin" else peak / 1024,
        "events": events,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.devices, args.requests, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
