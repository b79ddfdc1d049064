"""One top-level import name: the four package folders install as ``coinfer.*``.

The source tree keeps ``emulator/``, ``policies/``, ``topologies/`` and ``traces/`` at its root;
``pyproject.toml`` maps them under ``coinfer``. These tests read the mapping, import the public
API from a directory outside the checkout (so that only the installed package can answer),
check the layering contract of ``[tool.importlinter]`` with import-linter and type-check the
package with mypy (``[tool.mypy]``), both on a copy of the tree laid out as installed.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("emulator", "policies", "topologies", "traces")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_folders() -> set[str]:
    """Every folder with an ``__init__.py`` under ``coinfer`` itself and the four package
    folders, as coinfer.* names."""
    names = {"coinfer"}
    for init in (ROOT / "coinfer").rglob("*/__init__.py"):
        names.add(".".join(init.parent.relative_to(ROOT).parts))
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            names.add(".".join(("coinfer", *parts)))
    return names


def test_every_package_folder_is_installed_under_coinfer():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert set(setuptools["packages"]) == _package_folders()
    assert setuptools["package-dir"] == {"coinfer": "coinfer"} | {
        f"coinfer.{folder}": folder for folder in FOLDERS
    }


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_import_coinfer_gives_the_public_api(tmp_path):
    code = (
        "import coinfer\n"
        "names = ['simulate', 'load_scenario', 'Scenario', 'Policy', 'Decision',\n"
        "         'PolicyContext', 'HardwareCatalog', 'ModelCatalog', '__version__']\n"
        "print(all(hasattr(coinfer, n) for n in names), coinfer.__version__)\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True ")


@pytest.mark.parametrize("bare", FOLDERS)
def test_the_bare_folder_names_do_not_import_from_an_installed_coinfer(tmp_path, bare):
    result = _python(f"import {bare}", tmp_path)
    assert result.returncode != 0
    assert f"No module named '{bare}'" in result.stderr


def _installed_layout(tmp_path: Path) -> Path:
    """A copy of the tree laid out as installed (``coinfer/emulator/...``) in ``tmp_path``, with
    ``pyproject.toml`` beside it (for the tools' settings); returns ``tmp_path``."""
    package = tmp_path / "coinfer"
    shutil.copytree(ROOT / "coinfer", package, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in FOLDERS:
        shutil.copytree(
            ROOT / folder, package / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layering_contract_holds(tmp_path):
    """``lint-imports`` on a copy of the tree laid out as installed (coinfer/emulator/...)."""
    lint_imports = shutil.which("lint-imports")
    if lint_imports is None:
        pytest.skip("import-linter is not installed (it comes with the dev extra)")
    layout = _installed_layout(tmp_path)
    result = subprocess.run(
        [lint_imports, "--no-cache"],
        cwd=layout,
        env={"PYTHONPATH": str(layout), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_package_type_checks(tmp_path):
    """``mypy -p coinfer`` on the installed layout, with ``[tool.mypy]`` of pyproject.toml (the
    whole package; strict in the engine, the model layer and the policies)."""
    pytest.importorskip("mypy", reason="mypy is not installed (it comes with the dev extra)")
    layout = _installed_layout(tmp_path / "tree")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "-p",
            "coinfer",
        ],
        cwd=layout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
