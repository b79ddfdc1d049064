"""Build step of coinfer: everything is declared in pyproject.toml but the compiled twins.

Each hot module of ``coinfer.emulator.compiled.HOT_MODULES`` is compiled with Cython into a
twin extension module (``_compiled_core`` beside ``core.py``, say) that the module puts in its
own place when it is imported (:mod:`coinfer.emulator.compiled`). The twin is built from the
module's source with its ``build()`` calls inlined here, at build time
(:func:`coinfer.emulator.records.inline_builds` does the same at import time for the Python
module), line numbers kept, and the source's SHA-256 appended.

The twins are optional: without Cython or a C compiler, when a twin fails to build, or with
``COINFER_PURE_PYTHON=1`` set, coinfer installs and runs as plain Python, with the same
results.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import tomllib
import types
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
#: where each import package lives in the source tree, as pyproject.toml's package-dir says
PACKAGE_DIRS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"][
    "setuptools"
]["package-dir"]


def _compiled_module() -> types.ModuleType:
    """coinfer.emulator.compiled, loaded from its file (it needs the standard library only)."""
    spec = importlib.util.spec_from_file_location(
        "_coinfer_compiled", ROOT / "emulator" / "compiled.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_path(module: str) -> Path:
    """The source file of the hot module ``module``."""
    for package, folder in sorted(PACKAGE_DIRS.items(), key=lambda item: -len(item[0])):
        if module.startswith(package + "."):  # the longest package that holds it
            return ROOT / folder / (module[len(package) + 1 :].replace(".", "/") + ".py")
    raise ValueError(f"{module}: not in a package folder of this source tree")


def _import_from_source(module: str) -> types.ModuleType:
    """Import ``module`` from this source tree (in Python: COINFER_PURE_PYTHON is set)."""
    if "coinfer" not in sys.modules:
        spec = importlib.machinery.ModuleSpec("coinfer", None, is_package=True)
        package = importlib.util.module_from_spec(spec)
        package.__path__ = [str(ROOT / "coinfer"), str(ROOT)]  # coinfer.emulator: ROOT/emulator
        sys.modules["coinfer"] = package
    return importlib.import_module(module)


def twin_sources(build_dir: Path) -> list[tuple[str, Path]]:
    """Write the source of every twin under ``build_dir``: (twin name, its .py file)."""
    compiled = _compiled_module()
    os.environ[compiled.PURE_PYTHON_VARIABLE] = "1"  # import the Python modules, not twins
    inline_source = _import_from_source("coinfer.emulator.records").inline_source
    twins = []
    for name in compiled.HOT_MODULES:
        path = source_path(name)
        source = path.read_bytes()
        sha256 = compiled.source_hash(source)
        module = _import_from_source(name)
        text = inline_source(source, vars(module), str(path))
        text += compiled.twin_epilogue(name, sha256)
        twin = compiled.twin_name(name)
        target = build_dir / (twin.replace(".", "/") + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        twins.append((twin, target))
    return twins


class BuildTwins(build_ext):
    """build_ext that writes and cythonizes the twins first, and builds none (a warning, not
    an error) when it cannot: coinfer then runs in Python."""

    def run(self) -> None:
        compiled = _compiled_module()
        if compiled.pure_python_forced():
            print(f"coinfer: {compiled.PURE_PYTHON_VARIABLE} is set: no compiled modules")
            return
        try:
            from Cython.Build import cythonize

            twins = twin_sources(Path(self.build_temp) / "coinfer-twins")
            cythonized = cythonize(
                [Extension(name, [str(path)]) for name, path in twins],
                compiler_directives={
                    "language_level": 3,
                    "annotation_typing": False,  # the annotations are for the type checker
                    "binding": True,
                },
                quiet=True,
                nthreads=0,
            )
            sources = {extension.name: extension.sources for extension in cythonized}
            for extension in self.extensions:  # as finalize_options prepared them
                extension.sources = sources[extension.name]
        except Exception as err:  # no Cython, or a source it cannot take: plain Python
            print(f"coinfer: the hot modules are not compiled ({type(err).__name__}: {err})")
            return
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1
        super().run()


if __name__ == "__main__":  # as setuptools runs it
    setup(
        ext_modules=[
            Extension(
                _compiled_module().twin_name(name),
                [str(source_path(name).relative_to(ROOT))],  # relative, as setuptools wants
                optional=True,
            )
            for name in _compiled_module().HOT_MODULES
        ],
        cmdclass={"build_ext": BuildTwins},
    )
