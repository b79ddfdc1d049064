"""Which models an edge server holds: placement policies and cold starts.

A server holds models in its memory (the scenario's ``model_cache``). When a one-pass request
reaches a server with work for it, or a generative request reaches a batching server with no
live sequence (a model in use is never evicted there), :meth:`ServerModels.cold_start` asks the
server's placement policy whether the model is there:

* a hit costs nothing;
* a miss starts a load of ``size = parameters × bytes_per_weight`` bytes, which takes
  ``latency_s + 8·size / bandwidth_bps`` seconds (from the server's disk, or from the cloud over
  a path of that bottleneck bandwidth and latency); the request waits for it, and so does every
  request for the same model arriving while it loads (they share the load: the bytes are counted
  once, in the row of the request that started it).

Placement policies form the plug-in family ``placement`` (:mod:`coinfer.emulator.plugins`,
entry points ``coinfer.placement``); a member implements :class:`PlacementPolicy`: it owns the
set of resident models and answers :meth:`~PlacementPolicy.lookup`. Built in: ``static`` (the
preloaded models stay, any other is loaded for each request and not kept) and ``lru`` (a missing
model is kept, evicting the least recently used models until it fits).

Loads do not contend with each other (each at the full bandwidth) and a model is evicted even
when requests that used it are still queued at the server: their weights count as loaded
(docs/early-exit-and-placement.md lists what the model ignores).
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol, runtime_checkable

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.scenario.model_placement import ModelCacheParams

use_compiled(__name__, __file__)  # its compiled build, if built from this source


@runtime_checkable
class PlacementPolicy(Protocol):
    """The models one server holds, and what happens on a request for one.

    Built with the scenario's ``model_cache`` parameters (the member's ``Params``), the
    server's memory for weights (B) and the size of every model its requests may ask for (B,
    by model name). No I/O, no global state.
    """

    Params: ClassVar[type[ModelCacheParams]]

    def __init__(
        self, params: ModelCacheParams, memory_bytes: float, sizes: Mapping[str, float]
    ) -> None: ...

    def lookup(self, model: str, time_s: float) -> bool:
        """A request for ``model`` at ``time_s`` (s): True if it is resident (a hit); else
        False, after the policy has updated its resident set (a miss: the model loads)."""
        ...

    def resident(self) -> tuple[str, ...]:
        """The models held now (for tests and summaries)."""
        ...


class StaticPlacement:
    """The preloaded models, for the whole run; any other model is loaded for the request
    that needs it and not kept."""

    Params = ModelCacheParams

    def __init__(
        self, params: ModelCacheParams, memory_bytes: float, sizes: Mapping[str, float]
    ) -> None:
        self._held = frozenset(params.preload)

    def lookup(self, model: str, time_s: float) -> bool:
        return model in self._held

    def resident(self) -> tuple[str, ...]:
        return tuple(sorted(self._held))


class LruPlacement:
    """Least recently used: a missing model is loaded and kept, evicting the models used least
    recently until it fits in the memory; the preloaded models start in preload order (the
    first is the least recently used)."""

    Params = ModelCacheParams

    def __init__(
        self, params: ModelCacheParams, memory_bytes: float, sizes: Mapping[str, float]
    ) -> None:
        self._memory_bytes = memory_bytes
        self._sizes = sizes
        self._held: OrderedDict[str, float] = OrderedDict()  # least recently used first
        self._used_bytes = 0.0
        for model in params.preload:
            self._admit(model)

    def lookup(self, model: str, time_s: float) -> bool:
        held = self._held
        if model in held:
            held.move_to_end(model)
            return True
        self._admit(model)
        return False

    def _admit(self, model: str) -> None:
        size = self._sizes[model]
        held = self._held
        while held and self._used_bytes + size > self._memory_bytes:
            _, evicted = held.popitem(last=False)
            self._used_bytes -= evicted
        held[model] = size
        self._used_bytes += size

    def resident(self) -> tuple[str, ...]:
        return tuple(self._held)


class ServerModels:
    """One server's models at run time: its placement policy and the loads in progress."""

    __slots__ = ("_load_s", "_loading", "loads", "policy", "sizes")

    def __init__(
        self,
        policy: PlacementPolicy,
        params: ModelCacheParams,
        sizes: Mapping[str, float],
        cloud_path: tuple[float, float] | None = None,
    ) -> None:
        self.policy = policy
        self.sizes = sizes  #: bytes of each model, B
        #: the load time of each model, s: latency + 8·bytes / bandwidth; from the cloud over a
        #: topology's wired path (``cloud_path``: its latency, s, and Σ 1/bandwidth, s/bit):
        #: latency + 8·bytes·Σ 1/bandwidth (store and forward)
        if params.source == "cloud" and cloud_path is not None:
            latency_s, s_per_bit = cloud_path
            self._load_s = {
                name: latency_s + 8.0 * size * s_per_bit for name, size in sizes.items()
            }
        else:
            self._load_s = {
                name: params.latency_s + 8.0 * size / params.bandwidth_bps
                for name, size in sizes.items()
            }
        self._loading: dict[str, float] = {}  # model -> time its load in progress ends, s
        self.loads = 0  #: loads started

    def wait_s(self, model: str, now_s: float) -> float:
        """How long a request for ``model`` reaching the server at ``now_s`` would wait for it,
        s, without asking the policy (nothing changes): 0 if held, else the rest of a load in
        progress, else a whole load."""
        ends = self._loading.get(model)
        if ends is not None and ends > now_s:
            return ends - now_s
        if model in self.policy.resident():
            return 0.0
        return self._load_s[model]

    def cold_start(self, model: str, now_s: float) -> tuple[float, float]:
        """``(wait_s, bytes)`` for a request for ``model`` reaching the server at ``now_s``:
        the time until the model is loaded (0 on a hit; the rest of a load in progress) and the
        bytes this request's load moves (0 unless it started one)."""
        ends = self._loading.get(model)
        if ends is not None:
            if ends > now_s:  # a load in progress: wait for it
                self.policy.lookup(model, now_s)
                return ends - now_s, 0.0
            del self._loading[model]
        if self.policy.lookup(model, now_s):
            return 0.0, 0.0
        load_s = self._load_s[model]
        self._loading[model] = now_s + load_s
        self.loads += 1
        return load_s, self.sizes[model]


def lru_miss_ratio(
    rates_per_s: Sequence[float], sizes_bytes: Sequence[float], memory_bytes: float
) -> float:
    """LRU's miss ratio under independent Poisson requests and instant loads, exactly.

    Model ``i`` is asked for at rate ``λ_i`` (1/s), so each request is for ``i`` with
    probability ``p_i = λ_i / Σλ``, independently (the independent reference model). Order all
    models by their last request, most recent first: this order is a Markov chain whose
    stationary law is that of move-to-front, ``P(o_1, …, o_n) = Π_k p_{o_k} / (1 − Σ_{j<k}
    p_{o_j})`` (King 1971; Flajolet, Gardy and Thimonier 1992). LRU holds the longest prefix of
    the order that fits in the memory (by induction: a hit moves a held model to the front; a
    miss puts the new model in front and evicts from the back of the held prefix until it fits,
    which leaves again the longest fitting prefix, since the prefix one model longer did not fit
    before). A request misses when its model is not held:
    ``Σ_order P(order) Σ_{i not held} p_i``. Enumerates the ``n!`` orders: for a few models.
    """
    total = math.fsum(rates_per_s)
    p = [rate / total for rate in rates_per_s]
    miss = 0.0
    for order in itertools.permutations(range(len(p))):
        probability, rest = 1.0, 1.0
        for model in order:
            probability *= p[model] / rest
            rest -= p[model]
        used, held = 0.0, 0
        for model in order:
            if used + sizes_bytes[model] > memory_bytes:
                break
            used += sizes_bytes[model]
            held += 1
        miss += probability * math.fsum(p[model] for model in order[held:])
    return miss
