"""The multi-user study (docs/multi-user.md): the paper's design and its baselines under load.

Run the sweep, then this script on its output directory:

    coinfer sweep examples/paper/multi-user.yaml --out sweeps/multi-user
    python examples/paper/multi_user.py sweeps/multi-user --out runs/multi-user

or let the script run the sweep first (``--run SWEEP_FILE``, on ``--workers`` processes), with
``--trace-dir`` where a sweep that replays registered traces finds them (multi-user-lte.yaml).

For every configuration (policy, channel, load) it averages over seeds the run summaries
(offered load, server utilisation, p99 latency, deadline-met ratio, energy per request, mean
distortion bound) and, read from each run's trace, the mean kept fraction and median distortion
bound of completed requests, the share of completed requests over the energy budget, and the
share not run (infeasible or dropped). Writes ``multi-user.csv``, one figure per channel
(``multi-user-CHANNEL.png``: p99 latency, deadline met, energy per request and kept fraction
against the offered load), and prints the table as Markdown. Units: s, J, requests/s.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import pandas as pd

from coinfer.emulator.api.intervals import t_interval
from coinfer.emulator.cli.errors import EXIT_BAD_INPUT, FLAGS
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.sweeps.executors import ProcessExecutor
from coinfer.emulator.sweeps.plan import load_plan
from coinfer.emulator.sweeps.plots import OKABE_ITO, readable_log_ticks
from coinfer.emulator.sweeps.runner import run_sweep
from coinfer.emulator.sweeps.store import RESULTS_FILE, RUNS_DIR, SweepStore
from examples.paper.figures import new_figure, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHANNEL = "channel.fading.law"
RATE = "devices.0.arrivals.rate_per_s"
POLICY_ORDER = (
    "joint",
    "joint-queue-aware",
    "fixed-power",
    "fixed-frequency",
    "prune-device-only",
    "prune-server-only",
    "on-device",
    "on-server",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SUMMARY_METRICS = {
    "offered_rate_per_s": "offered_load_per_s",
    "server_utilisation.edge": "server_utilisation",
    "latency_p99_s": "latency_p99_s",
    "deadline_met_ratio": "deadline_met",
    "energy_per_request_j": "energy_per_request_j",
    "distortion_mean": "distortion_mean",
}
TRACE_COLUMNS = (
    "warmup",
    "status",
    "model",
    "split",
    "rho_device",
    "rho_server",
    "distortion_bound",
    "energy_total_j",
    "energy_budget_j",
    "deadline_s",
)


#: Metrics that are shares of requests (their CIs stay in [0, 1]).
SHARES = ("deadline_met", "kept_fraction", "energy_over_budget", "not_run")


def trace_metrics(trace: pd.DataFrame) -> dict[str, float]:
    """Kept fraction and distortion of completed requests, energy overruns, requests not run
    (warm-up excluded)."""
    trace = trace[~trace["warmup"]]
    done = trace[trace["status"] == "completed"]
    if done.empty:
        kept = distortion = overrun = float("nan")
    else:
        model = ModelCatalog.builtin().get(str(done["model"].iloc[0]))
        split = done["split"].to_numpy(int)
        kept_params = (
            done["rho_device"].to_numpy(float) * model.device_params[split]
            + done["rho_server"].to_numpy(float) * model.server_params[split]
        )
        kept = float(np.mean(kept_params) / model.total_params)
        distortion = float(done["distortion_bound"].median())
        overrun = float((done["energy_total_j"] > done["energy_budget_j"] * (1 + 1e-9)).mean())
    return {
        "deadline_s": float(trace["deadline_s"].iloc[0]) if len(trace) else np.nan,
        "energy_budget_j": float(trace["energy_budget_j"].iloc[0]) if len(trace) else np.nan,
        "kept_fraction": kept,
        "distortion_median": distortion,
        "energy_over_budget": overrun,
        "not_run": float((trace["status"] != "completed").mean()) if len(trace) else np.nan,
    }


def study_table(sweep_dir: Path) -> pd.DataFrame:
    """One row per (policy, channel, per-device rate): means over the finished seeds."""
    results = pd.read_parquet(sweep_dir / RESULTS_FILE)
    results = results[results["status"] == "ok"]
    frame = results.rename(columns={CHANNEL: "channel", RATE: "rate_per_device_per_s"})
    if "channel" not in frame:  # no fading axis (a replayed link): the sweep's name
        frame["channel"] = SweepStore(sweep_dir).read_plan()["name"]
    extra = []
    for run_id in frame["run_id"]:
        trace = pd.read_parquet(
            sweep_dir / RUNS_DIR / run_id / "trace.parquet", columns=list(TRACE_COLUMNS)
        )
        extra.append(trace_metrics(trace))
    frame = pd.concat([frame.reset_index(drop=True), pd.DataFrame(extra)], axis=1)
    frame = frame.rename(columns=SUMMARY_METRICS)
    metrics = [*SUMMARY_METRICS.values(), *extra[0].keys()] if extra else []
    keys = ["policy", "channel", "rate_per_device_per_s"]
    table = seed_means(frame, keys, metrics)
    order = {name: i for i, name in enumerate(POLICY_ORDER)}
    table["_order"] = table["policy"].map(order)
    table = table.sort_values(["channel", "rate_per_device_per_s", "_order"])
    return table.drop(columns="_order").reset_index(drop=True)


def seed_means(frame: pd.DataFrame, keys: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per ``keys``: the number of seeds, and each metric's mean over them with the
    half-width of its 95 % Student-t interval (``METRIC_ci95``; NaN from a single seed)."""
    groups = frame.groupby(keys, sort=False)
    table = groups[metrics].mean().reset_index()
    table.insert(3, "seeds", groups.size().to_numpy())
    for metric in metrics:
        table[f"{metric}_ci95"] = groups[metric].agg(lambda v: t_interval(v)[1]).to_numpy()
    return table


def plot_channel(
    table: pd.DataFrame, channel: str, deadline_s: float, energy_budget_j: float
) -> Figure:
    """Six panels against the offered load: p99 latency, deadline met, energy per request, share
    over E0, mean kept fraction and median distortion bound; each point the mean over seeds
    with its 95 % CI as an error bar, clipped to the panel's domain (a share in [0, 1], a log
    axis above zero)."""
    figure, axes = new_figure(2, 3, 15.0, 8.0)
    panels = (
        ("latency_p99_s", 1.0, "p99 latency (s)", True),
        ("deadline_met", 1.0, "deadline met (fraction of requests)", False),
        ("energy_per_request_j", 1e3, "energy per completed request (mJ)", False),
        ("kept_fraction", 1.0, "mean kept fraction (completed)", False),
        ("distortion_median", 1.0, "median distortion bound (completed)", True),
        ("energy_over_budget", 1.0, "completed requests over E0 (fraction)", False),
    )
    rows = table[table["channel"] == channel]
    for index, policy in enumerate(POLICY_ORDER):
        points = rows[rows["policy"] == policy].sort_values("offered_load_per_s")
        if points.empty:
            continue
        joint = policy.startswith("joint")
        style = {
            "color": OKABE_ITO[index % len(OKABE_ITO)],
            "marker": MARKERS[index],
            "linestyle": "-" if joint else "--",
            "linewidth": 2.0 if joint else 1.2,
            "markerfacecolor": "none" if joint else OKABE_ITO[index % len(OKABE_ITO)],
            "markersize": 8 if joint else 5,
            "zorder": 5 if joint else 3,
        }
        for ax, (metric, scale, _, log) in zip(axes.flat, panels, strict=True):
            y = points[metric].to_numpy(float) * scale
            half = np.nan_to_num(points[f"{metric}_ci95"].to_numpy(float) * scale, nan=0.0)
            share = metric in SHARES
            below = np.minimum(half, y * (1 - 1e-3) if log else (y if share else half))
            above = np.minimum(half, 1.0 - y) if share else half
            ax.errorbar(
                points["offered_load_per_s"],
                y,
                yerr=np.vstack([np.maximum(below, 0.0), np.maximum(above, 0.0)]),
                capsize=2,
                label=policy,
                **style,
            )
    for ax, (_, _, label, log) in zip(axes.flat, panels, strict=True):
        ax.set_xlabel("offered load (requests/s, all devices)")
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
            readable_log_ticks(ax.yaxis)
    axes[0, 0].axhline(deadline_s, color="#888888", linestyle=":")
    axes[0, 2].axhline(energy_budget_j * 1e3, color="#888888", linestyle=":")
    axes[0, 2].set_ylim(0.0, energy_budget_j * 1e3 * 1.15)
    for ax in (axes[0, 1], axes[1, 0], axes[1, 2]):
        ax.set_ylim(-0.02, 1.02)
    axes[0, 1].legend(fontsize=7, loc="lower left")
    name = "no fading" if channel == "none" else f"{channel} block fading"
    figure.suptitle(
        f"One cell, one server, rising load: {name}; T0 = {deadline_s:g} s (dotted), "
        f"E0 = {energy_budget_j * 1e3:g} mJ (dotted); means over seeds, bars: 95% CI",
        fontsize=10,
    )
    return figure


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown, one line per configuration."""
    header = (
        "| channel | load (req/s) | policy | server util. | p99 latency (s) | deadline met "
        "| energy (mJ) | over E0 | not run | kept fraction | distortion median |"
    )
    lines = [header, "|" + "---|" * 11]
    for row in table.itertuples(index=False):
        lines.append(
            f"| {row.channel} | {row.offered_load_per_s:.2f} | `{row.policy}` "
            f"| {row.server_utilisation:.2f} | {row.latency_p99_s:.3g} | {row.deadline_met:.3f} "
            f"| {row.energy_per_request_j * 1e3:.2f} | {row.energy_over_budget:.3f} "
            f"| {row.not_run:.3f} | {row.kept_fraction:.3f} | {row.distortion_median:.3g} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="output directory of the sweep")
    parser.add_argument("--out", type=Path, required=True, help="where to write table/figures")
    parser.add_argument(
        "--loads",
        type=lambda text: [float(v) for v in text.split(",")],
        default=None,
        help="per-device rates to print (comma-separated; default: all)",
    )
    parser.add_argument("--run", type=Path, help="run this sweep file into SWEEP_DIR first")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--trace-dir", type=Path, help="where registered input traces are read")
    args = parser.parse_args(argv)
    try:
        return _study(args)
    except InputError as err:  # bad input (a missing trace, a bad sweep): one line, exit 2
        print(f"{parser.prog}: error: {err.worded(FLAGS)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _study(args: argparse.Namespace) -> int:
    if args.trace_dir is not None:  # worker processes inherit it
        os.environ["COINFER_TRACE_DIR"] = str(args.trace_dir.resolve())
    if args.run is not None:
        outcome = run_sweep(load_plan(args.run), args.sweep_dir, ProcessExecutor(args.workers))
        if outcome.failed:
            print(f"{len(outcome.failed)} runs failed (see {args.sweep_dir}/runs/*/error.json)")
    table = study_table(args.sweep_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "multi-user.csv", index=False)
    deadline, budget = float(table["deadline_s"].iloc[0]), float(table["energy_budget_j"].iloc[0])
    for channel in table["channel"].unique():
        figure = plot_channel(table, channel, deadline, budget)
        save(figure, args.out / f"multi-user-{channel}.png")
    shown = table if args.loads is None else table[table["rate_per_device_per_s"].isin(args.loads)]
    print(markdown(shown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
