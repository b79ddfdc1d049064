"""Compiled builds of the hot modules, used when they were built from the source beside them.

The engine's hot path (arrival, decision, upload, service, trace row) is plain Python. When
coinfer is installed with a C compiler at hand, the build (``setup.py``) also compiles each
module of :data:`HOT_MODULES` with Cython into a *twin* extension module: ``_compiled_core``
beside ``core.py``, say, built from ``core.py``'s own source after its ``build()`` calls were
inlined (:func:`coinfer.emulator.records.inline_builds`, done at build time instead of import
time). The source is the reference; the twin is the same code, compiled, under the module's
own name (its ``__name__``: its classes and functions say they are the module's, in messages,
reprs and pickles).

Each hot module calls :func:`use_compiled` after its imports. It imports the twin and puts it in
``sys.modules`` in the module's place (the rest of the module body still runs, in Python,
and is dropped by the import system), but only when

- the twin exists (it is not built without a C compiler, or with ``COINFER_PURE_PYTHON=1``
  set when installing);
- it was built from exactly the source beside it (its SHA-256): after an edit of ``core.py``
  in a checkout installed with ``pip install -e .``, ``core`` runs in Python, with a
  :class:`StaleCompiledWarning`, until the next ``pip install -e .``;
- ``COINFER_PURE_PYTHON`` is not set to a true value (``1``, ``true``, ``yes``) when the
  module is imported.

The two give the same results, bit for bit (tests/emulator/test_compiled.py runs a scenario
both ways). :func:`status` says which is in use, module by module.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from typing import Any

#: The modules compiled when the build can (setup.py reads this tuple from this file).
HOT_MODULES: tuple[str, ...] = (
    "coinfer.emulator.engine.core",
    "coinfer.emulator.engine.uplink",
    "coinfer.emulator.engine.sharing",
    "coinfer.emulator.engine.fading",
    "coinfer.emulator.engine.servers",
    "coinfer.emulator.engine.merged",
    "coinfer.policies.fixed",
    "coinfer.policies.base",
    "coinfer.policies.prediction",
    "coinfer.emulator.model.reference",
    "coinfer.emulator.trace.writer",
    "coinfer.emulator.engine.draws",
    # generative serving, TTI schedulers, mobility, backhaul, the joint optimiser's fast path
    "coinfer.emulator.engine.generative",
    "coinfer.emulator.engine.batching_server",
    "coinfer.emulator.engine.batching.base",
    "coinfer.emulator.engine.pf_window",
    "coinfer.emulator.engine.tti_schedulers",
    "coinfer.emulator.engine.handover",
    "coinfer.emulator.engine.backhaul",
    "coinfer.policies.joint_fast",
    "coinfer.policies.generative",
    # the exact joint solver and the baselines, interference, the model cache, compact models,
    # quality columns, the batching schedulers
    "coinfer.policies.problem",
    "coinfer.policies.joint_solver",
    "coinfer.policies.joint",
    "coinfer.policies.baselines",
    "coinfer.emulator.engine.interference",
    "coinfer.emulator.engine.model_cache",
    "coinfer.emulator.engine.compact",
    "coinfer.emulator.engine.quality",
    "coinfer.emulator.engine.batching.vllm",
    "coinfer.emulator.engine.batching.sarathi",
    "coinfer.emulator.engine.batching.orca",
    "coinfer.emulator.engine.batching.kv",
)

#: The environment variable that keeps every hot module in Python.
PURE_PYTHON_VARIABLE = "COINFER_PURE_PYTHON"

#: The twin's attribute holding the SHA-256 of the source it was built from.
SOURCE_HASH_ATTRIBUTE = "__coinfer_source_sha256__"

_TRUE = {"1", "true", "yes", "on"}


class StaleCompiledWarning(RuntimeWarning):
    """A hot module's compiled twin was built from another version of its source: the module
    runs in Python (reinstall to compile it again)."""


def twin_name(module: str) -> str:
    """The name of ``module``'s compiled twin: ``a.b._compiled_c`` for ``a.b.c``."""
    package, _, leaf = module.rpartition(".")
    return f"{package}._compiled_{leaf}"


def source_hash(source: bytes) -> str:
    """The SHA-256 of a module's source, as recorded in its twin (hex)."""
    return hashlib.sha256(source).hexdigest()


def pure_python_forced() -> bool:
    """Whether ``COINFER_PURE_PYTHON`` asks for every hot module in Python."""
    return os.environ.get(PURE_PYTHON_VARIABLE, "").strip().lower() in _TRUE


def use_compiled(module: str, source_file: str) -> None:
    """Put the compiled twin of ``module`` (whose source is ``source_file``) in its place in
    ``sys.modules`` when it may be used (see the module docstring); else do nothing.

    Called by the twin itself too (it is built from the same source): a twin, or a module not
    run from its ``.py`` source, is left alone.
    """
    if module.rpartition(".")[2].startswith("_compiled_") or not source_file.endswith(".py"):
        return
    if pure_python_forced():
        return
    name = twin_name(module)
    if importlib.util.find_spec(name) is None:  # not built
        return
    expected = source_hash(Path(source_file).read_bytes())
    try:
        twin = importlib.import_module(name)
    except Exception as err:  # a twin of an older source that no longer imports
        warnings.warn(
            _stale_message(module, f"it fails to import ({err})"),
            StaleCompiledWarning,
            stacklevel=3,
        )
        return
    if getattr(twin, SOURCE_HASH_ATTRIBUTE, None) != expected:
        warnings.warn(
            _stale_message(module, "it was built from another version of the source"),
            StaleCompiledWarning,
            stacklevel=3,
        )
        return
    sys.modules[module] = twin


def _stale_message(module: str, reason: str) -> str:
    return (
        f"{module} runs in Python: its compiled build is not used, as {reason}; "
        "`pip install -e .` compiles it again"
    )


def twin_epilogue(module: str, sha256: str) -> str:
    """The lines the build appends to ``module``'s source to make its twin: :func:`adopt` its
    names, then record the source's hash."""
    return (
        "\nfrom coinfer.emulator.compiled import adopt as __coinfer_adopt\n"
        f"__coinfer_adopt(globals(), {module!r})\n"
        f"{SOURCE_HASH_ATTRIBUTE} = {sha256!r}\n"
    )


def adopt(namespace: dict[str, Any], module: str) -> None:
    """Make the classes and functions a twin defines say they are ``module``'s (their
    ``__module__``, as in messages, reprs and pickles), and the twin itself; what it imported
    from elsewhere is left alone. Called at the end of the twin (:func:`twin_epilogue`):
    compiled, a class takes the twin's name (and a ``NamedTuple`` the importer's)."""
    own = namespace["__name__"]
    for name, value in list(namespace.items()):
        if name.startswith("__") or not _defines(value):
            continue
        home = getattr(value, "__module__", None)
        if home == module:
            continue
        if home != own and getattr(sys.modules.get(home or ""), value.__name__, None) is value:
            continue  # imported from its own module (perhaps under another name)
        value.__module__ = module
        if isinstance(value, type):
            for member in vars(value).values():
                if _defines(member) and getattr(member, "__module__", None) == own:
                    member.__module__ = module
    namespace["__name__"] = module


def _defines(value: object) -> bool:
    """Whether ``value`` is a class or a function (Python or compiled): what a module defines."""
    return isinstance(value, type) or (hasattr(value, "__code__") and hasattr(value, "__name__"))


def status() -> dict[str, str]:
    """For every hot module: ``compiled`` when its twin is in use, ``python`` when not (import
    them first: a module not imported yet is imported here)."""
    return {
        module: (
            "compiled"
            if hasattr(importlib.import_module(module), SOURCE_HASH_ATTRIBUTE)
            else "python"
        )
        for module in HOT_MODULES
    }
