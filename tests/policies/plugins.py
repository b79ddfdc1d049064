"""Real plug-ins for registry tests: modules and installed distributions written to a tmp dir.

Module names are unique per call, so a module left in ``sys.modules`` by one test never shadows
another test's; the directories leave ``sys.path`` when the test's ``monkeypatch`` is undone.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

#: A minimal valid policy; ``{name}`` is its registered name.
POLICY_SOURCE = '''
from pydantic import Field

from coinfer.policies.base import Decision, Policy


class Plugged(Policy):
    """Runs everything on the device at top clock (a test plug-in)."""

    name = "{name}"
    summary = "a plug-in policy for tests"

    class Params(Policy.Params):
        rho_device: float = Field(default=1.0, ge=0, le=1, description="device kept fraction")

    def decide(self, context):
        last = context.model.last_split
        p, f = context.device.max_tx_power_w, context.device.f_max_hz
        return Decision(last, self.params.rho_device, 1.0, p, f, context.server.f_max_hz,
                        0.0, 0.0, 0.0)


def helper():
    return None
'''


def policy_source(name: str) -> str:
    """Source of a module defining the test policy ``Plugged`` registered as ``name``."""
    return POLICY_SOURCE.replace("{name}", name)


def unique_module_name(stem: str = "plugin") -> str:
    """A module name no other test uses."""
    return f"coinfer_test_{stem}_{uuid.uuid4().hex[:8]}"


def write_module(directory: Path, source: str, stem: str = "plugin") -> str:
    """Write ``source`` as a new module in ``directory``; return its (unique) name."""
    name = unique_module_name(stem)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


def install_distribution(
    monkeypatch: pytest.MonkeyPatch,
    root: Path,
    dist: str,
    entry_points: dict[str, str],
    source: str | None = None,
    group: str = "coinfer.policies",
    more_groups: dict[str, dict[str, str]] | None = None,
) -> str:
    """Put a distribution ``dist`` on ``sys.path`` with entry points in ``group`` (and in each
    group of ``more_groups``).

    ``source`` (optional) becomes a module shipped with the distribution; ``{module}`` in an
    entry point value is replaced by that module's name, which is returned.
    """
    site = root / f"site-{dist}"
    module = write_module(site, source or "", "dist") if source is not None else ""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8"
    )
    sections = []
    for section, points in {group: entry_points, **(more_groups or {})}.items():
        lines = [f"{name} = {value.format(module=module)}" for name, value in points.items()]
        sections.append(f"[{section}]\n" + "\n".join(lines) + "\n")
    (info / "entry_points.txt").write_text("\n".join(sections), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    return module
