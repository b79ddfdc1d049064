"""``coinfer solve``: one request in the paper's setting, decided by a policy and costed.

The setting is :class:`emulator.solve.Instance` (the paper's by default); flags pick the model,
hardware, budgets and policy, ``--set`` changes any hardware, channel or request number, and
``--split`` / ``--rho-min`` become the policy's parameters. The heavy imports happen only when
the command runs, so ``coinfer --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from coinfer.emulator.cli.argtypes import non_negative_int
from coinfer.emulator.errors import InputError
from coinfer.emulator.tables import format_table, si

if TYPE_CHECKING:
    from coinfer.emulator.api.solve import Solution
    from coinfer.emulator.model.profiles import ModelProfile

DEFAULT_POLICY = "joint"
#: What ``joint`` becomes with ``coinfer solve --bits``: joint with widths as decisions.
DEFAULT_BITS_POLICY = "joint-compact"


def add_commands(
    commands: argparse._SubParsersAction,
    json_flag: argparse.ArgumentParser,
    model_files: argparse.ArgumentParser,
    hardware_files: argparse.ArgumentParser,
) -> None:
    """Register ``coinfer solve`` on the top-level parser."""
    solve = commands.add_parser(
        "solve",
        parents=[json_flag, model_files, hardware_files],
        help="decide one request (the paper's setting by default) and print its cost",
        description="Ask a policy for one decision in the paper's setting (bert-paper on "
        "paper-device and paper-server, 500 m, K0 = -30 dB, exponent 2.8, B = 5 MHz, "
        "N0 = 2e-19 W/Hz, idle queues, no budgets unless given) and print the decision with its "
        "predicted and recomputed latency, energy and distortion.",
    )
    solve.add_argument("--model", default="bert-paper", metavar="NAME", help="model profile")
    solve.add_argument("--device", default="paper-device", metavar="NAME", help="device class")
    solve.add_argument("--server", default="paper-server", metavar="NAME", help="server class")
    solve.add_argument(
        "--split",
        type=_split,
        metavar="L",
        help="split point (default: the policy searches, or uses its own default)",
    )
    solve.add_argument(
        "--t0",
        type=_budget("seconds"),
        default=math.inf,
        metavar="SECONDS",
        help="latency budget T0 (default: none)",
    )
    solve.add_argument(
        "--e0",
        type=_budget("joules"),
        default=math.inf,
        metavar="JOULES",
        help="energy budget E0, device and server (default: none)",
    )
    solve.add_argument(
        "--policy",
        default=DEFAULT_POLICY,
        metavar="NAME",
        help=f"policy name or module:Class (default: {DEFAULT_POLICY}; {DEFAULT_POLICY} with "
        f"--bits is {DEFAULT_BITS_POLICY})",
    )
    solve.add_argument(
        "--bits",
        type=_bit_widths,
        metavar="B,B,...",
        help="weight widths the policy may choose per side, e.g. 16,8,4 (0: the model's own; "
        "policies with a weight_bits parameter); the chosen widths are printed",
    )
    solve.add_argument(
        "--param",
        action="append",
        default=[],
        dest="params",
        metavar="KEY=VALUE",
        help="a policy parameter, value parsed as YAML, e.g. --param rho_device=0.8 (repeatable)",
    )
    solve.add_argument(
        "--set",
        action="append",
        default=[],
        dest="settings",
        metavar="KEY=VALUE",
        help="change a number of the setting: device.FIELD, server.FIELD (hardware fields), "
        "channel.distance_m, channel.k0_db, channel.reference_distance_m, channel.exponent, "
        "channel.gain, channel.bandwidth_hz, channel.noise_psd_w_per_hz, request.work_scale "
        "(repeatable)",
    )
    solve.add_argument(
        "--rho-min",
        type=_fraction,
        metavar="X",
        help="lower bound on both kept fractions (policies with a rho_min parameter)",
    )
    solve.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the policy's random stream (default 0)",
    )


def _split(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a split point >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"got {value}, expected a split point >= 0")
    return value


def _budget(unit: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not value > 0:  # also refuses NaN
            raise argparse.ArgumentTypeError(
                f"got {text!r}, expected a positive number of {unit} (inf: no budget)"
            )
        return value

    return parse


def _bit_widths(text: str) -> list[int]:
    from coinfer.emulator.model.quantization import STORAGE_BITS

    allowed = ", ".join(str(b) for b in STORAGE_BITS)
    widths = []
    for part in text.split(","):
        try:
            value = int(part)
        except ValueError:
            value = -1
        if value != 0 and value not in STORAGE_BITS:
            raise argparse.ArgumentTypeError(
                f"got {text!r}, expected widths separated by commas, each 0 (the model's own) "
                f"or one of {allowed}"
            )
        widths.append(value)
    return widths


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a kept fraction in [0, 1]")
    return value


def policy_params(
    policy: str,
    assignments: list[str],
    split: int | None,
    rho_min: float | None,
    model: ModelProfile,
    bits: list[int] | None = None,
) -> dict[str, Any]:
    """The policy's parameters from ``--param``, ``--split``, ``--rho-min`` and ``--bits``
    (``weight_bits``).

    ``--split L`` becomes ``splits: [L]`` for a policy with a ``splits`` parameter (it searches
    the listed split points) and ``split: L`` for one with ``split``.
    """
    from coinfer.emulator.yaml_files import parse_yaml_or_text
    from coinfer.policies.registry import policy_class

    params: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(
                f"--param: got {assignment!r}, expected KEY=VALUE, e.g. --param rho_device=0.8"
            )
        params[key] = parse_yaml_or_text(text, f"--param {key}")
    fields = policy_class(policy).Params.model_fields
    if split is not None:
        if split > model.last_split:
            raise InputError(
                f"--split: got {split}, expected a split point in 0..{model.last_split} for "
                f"model {model.name!r}"
            )
        key, value = ("splits", [split]) if "splits" in fields else ("split", split)
        if key not in fields:
            raise InputError(
                f"--split: policy {policy!r} takes no split or splits parameter; expected a "
                f"policy that does (its parameters: {', '.join(fields) or 'none'})"
            )
        _claim(params, key, value, f"--split {split}")
    if rho_min is not None:
        if "rho_min" not in fields:
            raise InputError(
                f"--rho-min: policy {policy!r} takes no rho_min parameter (its parameters: "
                f"{', '.join(fields) or 'none'})"
            )
        _claim(params, "rho_min", rho_min, f"--rho-min {rho_min:g}")
    if bits is not None:
        if "weight_bits" not in fields:
            raise InputError(
                f"--bits: policy {policy!r} takes no weight_bits parameter; expected a policy "
                "that does (joint-compact, quantize-only, distill-only)"
            )
        _claim(params, "weight_bits", bits, f"--bits {','.join(map(str, bits))}")
    return params


def _claim(params: dict[str, Any], key: str, value: Any, flag: str) -> None:
    if key in params:
        raise InputError(f"{flag} and --param {key}={params[key]!r} both set {key}; give one")
    params[key] = value


def solve_command(args: argparse.Namespace) -> str:
    """``coinfer solve``: the decision and its cost, as a table or JSON."""
    from coinfer.emulator.api.solve import Instance, solve
    from coinfer.emulator.model.catalog import ModelCatalog
    from coinfer.emulator.model.hardware import HardwareCatalog, load_hardware_file

    models = ModelCatalog.builtin().with_files(getattr(args, "model_file", []))
    hardware = HardwareCatalog.builtin()
    for path in getattr(args, "hardware_file", []):
        hardware = hardware.with_specs(load_hardware_file(path))
    model = _flag("--model", lambda: models.get(args.model))
    device = _flag("--device", lambda: hardware.get(args.device, kind="device"))
    server = _flag("--server", lambda: hardware.get(args.server, kind="server"))
    instance = Instance(
        model=model,
        device=device,
        server=server,
        deadline_s=args.t0,
        energy_budget_j=args.e0,
    ).with_settings(args.settings)
    bits = getattr(args, "bits", None)
    policy = args.policy
    if bits is not None and policy == DEFAULT_POLICY:  # joint with widths as decisions
        policy = DEFAULT_BITS_POLICY
    params = policy_params(policy, args.params, args.split, args.rho_min, model, bits)
    solution = solve(instance, policy, params, args.seed)
    if getattr(args, "json", False):
        return json.dumps(solution.to_dict(), indent=2)
    return format_solution(solution, widths=bits is not None or is_compact(solution.decision))


def _flag(flag: str, resolve):
    try:
        return resolve()
    except InputError as err:
        err.within(flag)
        raise


def is_compact(decision: Any) -> bool:
    """Whether a decision quantizes or names another model (its widths are then printed)."""
    return bool(
        decision.model
        or decision.weight_bits_device
        or decision.weight_bits_server
        or decision.payload_bits_per_value
        or decision.kv_cache_bits
    )


def format_solution(solution: Solution, *, widths: bool = False) -> str:
    """A heading with the setting, the decision table and the cost breakdown by stage; with
    ``widths``, the model that runs and its bit widths too."""
    data = solution.to_dict()
    setting, parts = data["setting"], data["breakdown"]
    where = (
        f"g = {setting['gain']:.4g} (given)"
        if setting["gain_given"]
        else f"d = {setting['distance_m']:g} m, g = {setting['gain']:.4g}"
    )
    budgets = ", ".join(
        f"{symbol} = {'none' if setting[key] is None else f'{setting[key]:g} {unit}'}"
        for symbol, key, unit in (("T0", "deadline_s", "s"), ("E0", "energy_budget_j", "J"))
    )
    head = (
        f"policy {data['policy']!r} on {setting['model']}: {setting['device']} -> "
        f"{setting['server']}, {where}, B = {si(setting['bandwidth_hz'], 'Hz')}, "
        f"N0 = {setting['noise_psd_w_per_hz']:g} W/Hz, {budgets}"
    )
    decision_keys: tuple[str, ...] = (
        "split",
        "rho_device",
        "rho_server",
        "tx_power_w",
        "f_device_hz",
        "f_server_hz",
        "feasible",
        "admit",
        "predicted_latency_s",
        "predicted_energy_j",
        "distortion_bound",
        "kept_fraction",
        "device_energy_j",
    )
    if widths:
        decision_keys += (
            "model",
            "weight_bits_device",
            "weight_bits_server",
            "payload_bits_per_value",
            "kv_cache_bits",
        )
    decision = format_table(("decision", "value"), [(k, _show(data[k])) for k in decision_keys])
    stages = [
        ("device compute", parts["device_compute_s"], parts["device_compute_j"]),
        ("upload", parts["upload_s"], parts["upload_j"]),
        ("server compute", parts["server_compute_s"], parts["server_compute_j"]),
        ("total", parts["latency_s"], parts["energy_j"]),
    ]
    breakdown = format_table(
        ("recomputed", "latency_s", "energy_j"),
        [(name, _show(t), _show(e)) for name, t, e in stages],
    )
    rate = f"uplink rate {parts['rate_bps']:.6g} bit/s"
    return "\n\n".join((head, decision, breakdown, rate))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "inf"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
