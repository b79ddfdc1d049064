"""House rules that tooling can check: ruff lint and ruff format are clean.

Both run with the ruff pinned in pyproject.toml's ``dev`` extra, taken from this environment
(``python -m ruff``, not whichever ``ruff`` comes first on ``PATH``): another release may lint
or format differently, so with another one the test is skipped, saying which it found.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pinned_ruff() -> str:
    """The version ``ruff==X.Y.Z`` in the ``dev`` extra of pyproject.toml."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [
        match.group(1)
        for requirement in pyproject["project"]["optional-dependencies"]["dev"]
        if (match := re.fullmatch(r"ruff\s*==\s*(\S+)", requirement))
    ]
    assert len(pins) == 1, "pyproject.toml's dev extra must pin ruff exactly once (ruff==X.Y.Z)"
    return pins[0]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def pinned_ruff_is_installed():
    pin = pinned_ruff()
    version = ruff("--version")
    if version.returncode != 0:
        pytest.skip(f"ruff is not installed (the dev extra pins ruff=={pin})")
    found = version.stdout.split()[-1]
    if found != pin:
        pytest.skip(f"ruff {found} is installed, but the dev extra pins ruff=={pin}")


def test_the_dev_extra_pins_one_ruff_release():
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned_ruff())


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command, pinned_ruff_is_installed):
    result = ruff(*command, "--no-cache", ".")  # no .ruff_cache/ left in the checkout
    assert result.returncode == 0, result.stdout + result.stderr
