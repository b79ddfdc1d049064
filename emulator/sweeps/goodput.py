"""Goodput: the largest arrival rate at which a share of generative requests meets both SLOs.

::

    from coinfer.emulator.scenario.schema import load_scenario
    from coinfer.emulator.sweeps.executors import ProcessExecutor
    from coinfer.emulator.sweeps.goodput import goodput

    result = goodput(
        load_scenario("examples/scenarios/llm-chat-cell.yaml"),
        "sweeps/llm-chat-cell-goodput",
        attainment=0.9,
        seeds=[1, 2],
        executor=ProcessExecutor(2),
        trace_dir="../shared/traces",
    )
    result.load_factor, result.offered_rate_per_s, result.output_tokens_per_s

**The load.** A load factor ``x`` multiplies the arrival rate of every device group (each
group's ``arrivals`` parameters scaled by their own
:meth:`~coinfer.emulator.scenario.schema.ArrivalParams.rate_scaled`: a Poisson
``rate_per_s × x``, a deterministic ``interval_s / x``, a replayed trace's ``rate_scale × x``);
an arrival process that cannot be scaled is refused before anything runs. ``x = 1`` is the
scenario as given. The offered rate (requests/s) and the output tokens/s reported are measured in
the runs at the answer (means over the seeds).

**The attainment** of a load factor is pooled over the seeds: the generative requests, measured
after the warm-up, that completed within both SLOs, over all of them, on every seed together
(so it is the share of requests, each seed's runs weighing by their requests; a per-seed
minimum is in the probe table too, for a stricter reading). The SLOs are the scenario's ``slo``
unless ``ttft_s`` or ``tpot_s`` is given (each replaces the scenario's one); at least one must
be set. Every probe's scenario carries these SLOs, so each run's ``summary.json`` reports the
same attainment (``coinfer summarize`` on the directory shows it).

**The search** is :func:`~coinfer.emulator.sweeps.bisection.bisect_load`: on a geometric grid
of relative step ``tolerance``, ``per_round`` load factors per round (default: the executor's
workers), every seed of each, all submitted to the executor together, so a round costs about
one probe's wall time on ``per_round`` workers.

**The directory** (``out_dir``) is a sweep directory (:mod:`~coinfer.emulator.sweeps.store`):
each run of each probe in ``runs/RUN_ID/`` under the sweep's run ids (a hash of the resolved
scenario and seed), so a rerun of the same search redoes nothing, and one with more probes per
round (not part of the question) reuses every grid point it shares. Besides the runs:

::

    DIR/goodput.json             the question (arguments, resolved scenario), the answer, the
                                 probes, provenance (versions, executor, wall time)
    DIR/probes.parquet, .csv     one row per probed load factor, in the order probed
    DIR/sweep.json, results.parquet, aggregate.parquet, aggregate.csv
                                 the probes as a sweep over ``load_factor`` (coinfer summarize)

A directory holding another question's ``goodput.json``, or anything but a goodput search, is
refused: nothing is overwritten silently.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coinfer.emulator import __version__
from coinfer.emulator.errors import InputError
from coinfer.emulator.output_files import write_bytes_atomically
from coinfer.emulator.scenario.schema import GenerativeSlo, Scenario
from coinfer.emulator.sweeps.aggregate import collect, write_tables
from coinfer.emulator.sweeps.bisection import Bisection, Status, bisect_load, check_search
from coinfer.emulator.sweeps.executors import Executor, SerialExecutor
from coinfer.emulator.sweeps.ids import config_id, digest, jsonable, run_id
from coinfer.emulator.sweeps.plan import POLICY_COLUMN, canonical_configuration
from coinfer.emulator.sweeps.store import (
    SweepStore,
    read_json,
    write_json,
)
from coinfer.emulator.sweeps.worker import RunTask, execute_run, failure_record

if TYPE_CHECKING:
    import pandas as pd

GOODPUT_FILE = "goodput.json"
PROBES_PARQUET = "probes.parquet"
PROBES_CSV = "probes.csv"
#: The column of the load factor in the probe table and the sweep tables.
LOAD_COLUMN = "load_factor"
#: Doublings (or halvings) the search goes beyond its first round before it gives up.
MAX_DOUBLINGS = 10


@dataclass(frozen=True)
class GoodputProbe:
    """One probed load factor, over every seed."""

    round: int  #: the round that probed it, from 1
    load_factor: float
    config_id: str  #: the sweep id of its scenario (its runs are ``runs/RUN_ID``)
    requests: int  #: measured generative requests, all seeds
    met: int  #: of which completed within both SLOs
    attainment: float  #: met / requests (pooled over the seeds)
    attainment_min_seed: float  #: the smallest attainment of one seed
    meets: bool  #: attainment ≥ the target
    offered_rate_per_s: float  #: measured arrivals per second (mean over seeds), req/s
    output_tokens_per_s: float  #: output tokens of completed generative requests per second
    ttft_p99_s: float  #: 99th percentile TTFT, mean over seeds, s
    tpot_p99_s: float  #: 99th percentile TPOT, mean over seeds, s


@dataclass(frozen=True)
class GoodputResult:
    """The answer of :func:`goodput` and how it was found."""

    status: Status  #: ``found``, ``met-everywhere`` or ``missed-everywhere``
    scenario: str  #: the scenario's name
    policy: str
    target: float  #: the attainment asked for
    slo_ttft_s: float  #: inf: no TTFT objective
    slo_tpot_s: float  #: inf: no TPOT objective
    seeds: tuple[int, ...]
    tolerance: float
    per_round: int  #: probes per round
    rounds: int
    probes: tuple[GoodputProbe, ...]  #: in the order probed
    load_factor: float | None  #: the goodput's load factor (None: no probe met the target)
    missed_load_factor: float | None  #: the smallest probed load factor missing the target
    ran: int  #: runs executed by this call
    reused: int  #: runs found finished in the directory
    wall_time_s: float
    out_dir: str
    executor: str = ""
    question_id: str = ""

    @property
    def answer(self) -> GoodputProbe | None:
        """The probe at the answer's load factor."""
        return next((p for p in self.probes if p.load_factor == self.load_factor), None)

    @property
    def offered_rate_per_s(self) -> float:
        """Measured requests per second at the answer (NaN without one)."""
        answer = self.answer
        return answer.offered_rate_per_s if answer is not None else math.nan

    @property
    def output_tokens_per_s(self) -> float:
        """Output tokens per second at the answer (NaN without one)."""
        answer = self.answer
        return answer.output_tokens_per_s if answer is not None else math.nan

    def table(self) -> pd.DataFrame:
        """The probes, one row each, in the order probed."""
        import pandas as pd

        return pd.DataFrame([asdict(p) for p in self.probes])

    def to_dict(self) -> dict[str, Any]:
        """The answer as plain JSON data (what ``goodput.json`` holds under ``result``)."""
        return {
            "status": self.status,
            "load_factor": self.load_factor,
            "offered_rate_per_s": self.offered_rate_per_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "attainment": None if self.answer is None else self.answer.attainment,
            "bracket": [self.load_factor, self.missed_load_factor],
            "probes": len(self.probes),
            "rounds": self.rounds,
            "per_round": self.per_round,
            "ran": self.ran,
            "reused": self.reused,
            "wall_time_s": self.wall_time_s,
            "executor": self.executor,
        }


def scale_load(scenario: Scenario, factor: float) -> Scenario:
    """``scenario`` with the arrival rate of every device group multiplied by ``factor``.

    Each group's ``arrivals`` scale themselves
    (:meth:`~coinfer.emulator.scenario.schema.ArrivalParams.rate_scaled`); a process that
    cannot is refused with an :class:`InputError` naming the group and the process.
    """
    groups = []
    for index, group in enumerate(scenario.devices):
        scaled = group.arrivals.rate_scaled(factor)
        if scaled is None:
            process = group.arrivals.process
            raise InputError(
                f"devices[{index}].arrivals.process: got {process!r} (group {group.name!r}), "
                "which cannot be scaled; expected poisson, deterministic, trace, or a plug-in "
                "whose parameters define rate_scaled (docs/extending.md)",
                path=f"devices[{index}].arrivals.process",
                value=process,
                expected="an arrival process whose rate can be scaled",
            )
        groups.append(group.model_copy(update={"arrivals": scaled}))
    return scenario.model_copy(update={"devices": tuple(groups)})


def effective_slo(
    scenario: Scenario, ttft_s: float | None = None, tpot_s: float | None = None
) -> GenerativeSlo:
    """The SLOs of the search: the scenario's ``slo``, each objective replaced by the one given.

    Refuses (:class:`InputError`) no objective at all, or a non-positive one.
    """
    for name, value in (("ttft_s", ttft_s), ("tpot_s", tpot_s)):
        if value is not None and not value > 0:
            raise InputError(
                f"got {value}, expected a time > 0 s",
                argument=name,
                value=value,
                expected="a number > 0 (s)",
            )
    base = scenario.slo or GenerativeSlo()
    slo = GenerativeSlo(
        ttft_s=base.ttft_s if ttft_s is None else ttft_s,
        tpot_s=base.tpot_s if tpot_s is None else tpot_s,
    )
    if math.isinf(slo.ttft_s) and math.isinf(slo.tpot_s):
        raise InputError(
            f"scenario {scenario.name!r} has no slo and no objective was given; expected "
            "`ttft_s` or `tpot_s` (or the scenario's slo: {ttft_s: T, tpot_s: T})",
            mentions=("ttft_s", "tpot_s"),
        )
    return slo


def goodput(
    scenario: Scenario,
    out_dir: str | Path,
    *,
    attainment: float = 0.9,
    ttft_s: float | None = None,
    tpot_s: float | None = None,
    seeds: Sequence[int] | None = None,
    executor: Executor | None = None,
    per_round: int | None = None,
    lo: float | None = None,
    hi: float | None = None,
    tolerance: float = 0.05,
    trace_dir: str | Path | None = None,
    source: str | None = None,
    on_round: Callable[[Sequence[GoodputProbe]], None] | None = None,
) -> GoodputResult:
    """The largest load factor at which ``attainment`` of the generative requests meet the SLOs.

    ``scenario``: with generative requests (a device group with ``tokens``) and arrivals that
    scale (see the module docstring). ``ttft_s``, ``tpot_s``: the SLOs, s (default: the
    scenario's ``slo``). ``seeds``: default the scenario's own. ``executor``: where the runs
    execute (default: serially, in this process). ``per_round``: probes per round (default:
    the executor's workers). ``lo``, ``hi``: a bracket of load factors to start from (default:
    doublings and halvings from 1). ``tolerance``: relative width of the final bracket.
    ``trace_dir``: where the replayed input traces are. ``source``: where the scenario came
    from, for the record. ``on_round``: called with each round's probes.

    Everything is checked before any run; bad input raises :class:`InputError` naming the
    argument. Writes into ``out_dir`` (module docstring); a run that fails raises
    :class:`ProbeFailedError` after its round (its error is in its ``error.json``).
    """
    started = time.perf_counter()
    executor = SerialExecutor() if executor is None else executor
    seeds = _check_seeds([scenario.seed] if seeds is None else list(seeds))
    per_round_checked = 1 if per_round is None else per_round
    check_search(attainment, per_round_checked, tolerance, lo, hi, MAX_DOUBLINGS)
    slo = effective_slo(scenario, ttft_s, tpot_s)
    _check_generative(scenario)
    base = scenario.model_copy(update={"slo": slo})
    scale_load(base, 2.0)  # refuses an arrival process that cannot be scaled
    from coinfer.emulator.api.run import prepare

    prepare(base, seeds[0], trace_dir=trace_dir)  # refuses bad names, traces, policies
    question = {
        "scenario": canonical_configuration(base, f"scenario {scenario.name!r}"),
        "seeds": seeds,
        "attainment": attainment,
        "tolerance": tolerance,
        "lo": lo,
        "hi": hi,
        "max_doublings": MAX_DOUBLINGS,
    }
    question_id = digest({"goodput": question})
    store = SweepStore(Path(out_dir))
    _claim(store.root, question_id)
    header = {
        "question_id": question_id,
        "question": jsonable(question),
        "source": source,
        "trace_dir": None if trace_dir is None else str(trace_dir),
    }
    write_json(store.root / GOODPUT_FILE, {**header, "status": "running"})

    with ExitStack() as stack:
        entered = False

        def enter() -> None:
            nonlocal entered
            if not entered:
                stack.enter_context(executor)
                entered = True

        if per_round is None:
            if executor.parallelism is None:
                enter()  # a Dask cluster tells its size once connected
            per_round = executor.parallelism or 1
        probing = _Probing(base, seeds, attainment, store, trace_dir, executor, enter)

        def evaluate(xs: Sequence[float]) -> list[float]:
            probes = probing.round(xs)
            _write_probes(store, probing, {**header, "status": "running"})
            if on_round is not None:
                on_round(probes)
            return [p.attainment for p in probes]

        search = bisect_load(
            evaluate,
            attainment,
            per_round=per_round,
            tolerance=tolerance,
            lo=lo,
            hi=hi,
            max_doublings=MAX_DOUBLINGS,
        )
    result = _result(search, probing, scenario, slo, seeds, per_round, store, started, executor)
    result = replace(result, question_id=question_id)
    _write_outputs(store, probing, header, result)
    return result


class ProbeFailedError(RuntimeError):
    """A run of a probe raised: its error is in ``runs/RUN_ID/error.json``."""


class _Probing:
    """Runs the probes of the search into the store, reusing finished runs."""

    def __init__(
        self,
        base: Scenario,
        seeds: list[int],
        target: float,
        store: SweepStore,
        trace_dir: str | Path | None,
        executor: Executor,
        enter: Callable[[], None],
    ) -> None:
        self.base = base
        self.seeds = seeds
        self.target = target
        self.store = store
        self.trace_dir = None if trace_dir is None else str(trace_dir)
        self.executor = executor
        self.enter = enter
        self.rounds = 0
        self.ran = 0
        self.reused = 0
        self.probes: list[GoodputProbe] = []
        self.scenarios: dict[str, tuple[float, Scenario]] = {}  #: config id -> (x, scenario)

    def round(self, xs: Sequence[float]) -> list[GoodputProbe]:
        """Run every seed of every load factor in ``xs`` (all at once), then summarise each."""
        self.rounds += 1
        planned: list[tuple[float, str, list[str]]] = []
        tasks: list[RunTask] = []
        for x in xs:
            scenario = scale_load(self.base, x)
            configuration = canonical_configuration(scenario, f"load factor {x:g}")
            cid = config_id(configuration)
            self.scenarios[cid] = (x, scenario)
            ids = [run_id(configuration, seed) for seed in self.seeds]
            planned.append((x, cid, ids))
            for seed, rid in zip(self.seeds, ids, strict=True):
                if self.store.finished(rid) is None:
                    directory = str(self.store.run_dir(rid))
                    tasks.append(RunTask(rid, cid, seed, scenario, directory, self.trace_dir))
        self.reused += len(xs) * len(self.seeds) - len(tasks)
        self.ran += len(tasks)
        if tasks:
            self.enter()
            failed = []
            for record in self.executor.map_unordered(execute_run, tasks, failure_record):
                if record["status"] != "ok":
                    self.store.write_error(record)
                    failed.append(record)
            if failed:
                first = failed[0]
                raise ProbeFailedError(
                    f"{len(failed)} runs failed, e.g. run {first['run_id']} (seed "
                    f"{first['seed']}): {first['error']}; each error is in "
                    f"{self.store.root}/runs/RUN_ID/error.json"
                )
        probes = [self._summarise(x, cid, ids) for x, cid, ids in planned]
        self.probes += probes
        return probes

    def _summarise(self, x: float, cid: str, ids: list[str]) -> GoodputProbe:
        records = [self.store.finished(rid) for rid in ids]
        requests, met, shares = 0, 0, []
        offered, tokens, ttft, tpot = [], [], [], []
        for seed, record in zip(self.seeds, records, strict=True):
            assert record is not None
            metrics = record["metrics"]
            n = int(metrics.get("generative.requests", 0) or 0)
            if n == 0:
                raise InputError(
                    f"load factor {x:g}, seed {seed}: no generative request was measured "
                    "(after the warm-up); expected runs long enough to measure some (raise "
                    "duration_s or requests, or lower warmup_s)"
                )
            share = float(metrics["generative.slo_attainment"])
            requests += n
            met += round(share * n)
            shares.append(share)
            offered.append(metrics["offered_rate_per_s"])
            tokens.append(metrics["generative.tokens_per_s"])
            ttft.append(metrics["generative.ttft_p99_s"])
            tpot.append(metrics["generative.tpot_p99_s"])
        pooled = met / requests
        return GoodputProbe(
            round=self.rounds,
            load_factor=x,
            config_id=cid,
            requests=requests,
            met=met,
            attainment=pooled,
            attainment_min_seed=min(shares),
            meets=pooled >= self.target,
            offered_rate_per_s=_mean(offered),
            output_tokens_per_s=_mean(tokens),
            ttft_p99_s=_mean(ttft),
            tpot_p99_s=_mean(tpot),
        )

    def plan_json(self, name: str, source: str) -> dict[str, Any]:
        """The probes as a sweep plan over ``load_factor`` (``sweep.json``), by load."""
        ordered = sorted(self.scenarios.items(), key=lambda item: item[1][0])
        configurations, runs = [], []
        for index, (cid, (x, scenario)) in enumerate(ordered):
            configurations.append(
                {
                    "index": index,
                    "config_id": cid,
                    "policy": scenario.policy.name,
                    "point": {LOAD_COLUMN: x},
                    "scenario": jsonable(scenario),
                }
            )
            configuration = canonical_configuration(scenario, f"load factor {x:g}")
            runs += [
                {"run_id": run_id(configuration, seed), "config_id": cid, "seed": seed}
                for seed in self.seeds
            ]
        return {
            "name": name,
            "source": source,
            "columns": [POLICY_COLUMN, LOAD_COLUMN],
            "seeds": self.seeds,
            "configurations": configurations,
            "runs": runs,
        }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _check_seeds(seeds: list[int]) -> list[int]:
    if not seeds or any(int(s) != s or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise InputError(
            f"got {seeds}, expected distinct integers >= 0, at least one",
            argument="seeds",
            value=seeds,
            expected="distinct integers >= 0",
        )
    return [int(s) for s in seeds]


def _check_generative(scenario: Scenario) -> None:
    if not any(group.tokens is not None for group in scenario.devices):
        raise InputError(
            f"scenario {scenario.name!r}: no device group sends generative requests (none has "
            "tokens); expected a decoder group with tokens (docs/generative.md)",
            path="devices",
            expected="a device group with tokens",
        )


def _claim(root: Path, question_id: str) -> None:
    """Refuse a directory holding another question, or anything but a goodput search."""
    path = root / GOODPUT_FILE
    if path.exists():
        held = read_json(path)
        if isinstance(held, dict) and held.get("question_id") == question_id:
            return
        other = held.get("question_id") if isinstance(held, dict) else "unreadable"
        raise InputError(
            f"{str(root)!r} holds the goodput search of other arguments (question {other}, "
            f"this one is {question_id}); expected a new directory, or the same scenario, "
            "overrides, policy, SLOs, attainment, seeds, bracket and tolerance",
            argument="out_dir",
            value=str(root),
            expected="a new directory or the same arguments",
        )
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InputError(
            f"{str(root)!r} is not empty and holds no goodput search ({GOODPUT_FILE}); expected "
            "a new or empty directory",
            argument="out_dir",
            value=str(root),
            expected="a new or empty directory",
        )


def _result(
    search: Bisection,
    probing: _Probing,
    scenario: Scenario,
    slo: GenerativeSlo,
    seeds: list[int],
    per_round: int,
    store: SweepStore,
    started: float,
    executor: Executor,
) -> GoodputResult:
    met, missed = search.bracket
    return GoodputResult(
        status=search.status,
        scenario=scenario.name,
        policy=scenario.policy.name,
        target=search.target,
        slo_ttft_s=slo.ttft_s,
        slo_tpot_s=slo.tpot_s,
        seeds=tuple(seeds),
        tolerance=search.grid.ratio - 1.0,
        per_round=per_round,
        rounds=search.rounds,
        probes=tuple(probing.probes),
        load_factor=met,
        missed_load_factor=missed,
        ran=probing.ran,
        reused=probing.reused,
        wall_time_s=time.perf_counter() - started,
        out_dir=str(store.root),
        executor=executor.description,
    )


def _write_probes(store: SweepStore, probing: _Probing, record: dict[str, Any]) -> None:
    """The probe table (Parquet and CSV) and ``goodput.json`` (``record`` with the probes)."""
    import pandas as pd

    table = pd.DataFrame([asdict(p) for p in probing.probes])
    write_bytes_atomically(store.root / PROBES_PARQUET, table.to_parquet(index=False))
    write_bytes_atomically(store.root / PROBES_CSV, table.to_csv(index=False).encode("utf-8"))
    write_json(
        store.root / GOODPUT_FILE,
        {**record, "probes": jsonable([asdict(p) for p in probing.probes])},
    )


def _write_outputs(
    store: SweepStore, probing: _Probing, header: dict[str, Any], result: GoodputResult
) -> None:
    """Everything at the end: the sweep plan and tables, the probes, the answer."""
    from coinfer.emulator.api.run import package_versions

    name = f"goodput-{probing.base.name}"
    store.write_plan(probing.plan_json(name, header.get("source") or "goodput"))
    write_tables(store, collect(store))
    record = {
        **header,
        "status": "done",
        "result": jsonable(result.to_dict()),
        "slo": {"ttft_s": result.slo_ttft_s, "tpot_s": result.slo_tpot_s},
        "coinfer": __version__,
        "versions": package_versions(),
    }
    _write_probes(store, probing, record)
