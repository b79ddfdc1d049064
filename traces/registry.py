"""The registry of known public traces: name, kind, file, download address, sha256, license.

The data lives in ``catalog.yaml`` beside this module (sources with repository, commit, license
and citation; files with their origin path, sha256 and size; named traces with their reader).
:meth:`TraceRegistry.builtin` reads it when asked; nothing is loaded at import time.

A trace's file is found in a trace directory (see :mod:`traces.locate`) at its registry path,
e.g. ``mahimahi/Verizon-LTE-short.down``: the layout of ``../shared/traces`` and of the
download cache.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import quote

import yaml
from pydantic import ValidationError

from coinfer.emulator.errors import input_error_from_validation, unknown_name_error
from coinfer.emulator.plugins import TRACE_READERS
from coinfer.traces.provenance import Provenance

Kind = Literal["capacity", "snr", "arrivals", "positions"]
KINDS: tuple[str, ...] = ("capacity", "snr", "arrivals", "positions")
RAW_GITHUB = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class TraceSource:
    """A public dataset: its origin repository and commit, license and citation."""

    name: str
    title: str
    repository: str
    commit: str
    license: str
    citation: str


@dataclass(frozen=True)
class TraceFile:
    """One file of a dataset: where it sits in a trace directory and where to download it.

    ``path``: relative path in a trace directory; ``url``: public download address; ``sha256``:
    hex digest of the exact bytes; ``size_bytes``: its size.
    """

    path: str
    url: str
    sha256: str
    size_bytes: int
    source: TraceSource


@dataclass(frozen=True)
class TraceEntry:
    """A named trace: its kind, the file it is read from, the reader (a registered trace reader,
    :mod:`coinfer.traces.readers.base`) and the reader's options (its typed ``Params``)."""

    name: str
    kind: Kind
    file: TraceFile
    reader: str
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> TraceSource:
        """The dataset this trace comes from."""
        return self.file.source

    def provenance(self, path: str | Path = "") -> Provenance:
        """Provenance of this trace read from ``path``."""
        return Provenance(
            source=self.name,
            license=self.source.license,
            citation=self.source.citation,
            url=self.file.url,
            path=str(path),
        )

    def load(self, path: str | Path) -> Any:
        """Read the trace from the local copy of its file at ``path``."""
        return trace_reader(self.reader, self.options, f"trace {self.name!r}").read(
            Path(path), self.provenance(path)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "file": self.file.path,
            "url": self.file.url,
            "sha256": self.file.sha256,
            "bytes": self.file.size_bytes,
            "source": self.source.name,
            "title": self.source.title,
            "license": self.source.license,
            "citation": self.source.citation,
            "reader": self.reader,
            "options": dict(self.options),
        }


@dataclass(frozen=True)
class TraceRegistry:
    """Named traces, in catalog order."""

    entries: tuple[TraceEntry, ...]

    @classmethod
    def builtin(cls) -> TraceRegistry:
        """The traces listed in the packaged ``catalog.yaml``."""
        text = (
            resources.files("coinfer.traces").joinpath("catalog.yaml").read_text(encoding="utf-8")
        )
        return cls.from_catalog(yaml.safe_load(text))

    @classmethod
    def from_catalog(cls, catalog: Mapping[str, Any]) -> TraceRegistry:
        """A registry from the parsed catalog (``sources``, ``files``, ``traces``)."""
        sources = {
            name: TraceSource(name=name, **fields) for name, fields in catalog["sources"].items()
        }
        files = {}
        for path, fields in catalog["files"].items():
            source = sources[fields["source"]]
            files[path] = TraceFile(
                path=path,
                url=raw_github_url(source.repository, source.commit, fields["origin_path"]),
                sha256=fields["sha256"],
                size_bytes=int(fields["bytes"]),
                source=source,
            )
        entries = tuple(
            TraceEntry(
                name=item["name"],
                kind=item["kind"],
                file=files[item["file"]],
                reader=item["reader"],
                description=item["description"],
                options=MappingProxyType(dict(item.get("options") or {})),
            )
            for item in catalog["traces"]
        )
        return cls(entries)

    def names(self) -> list[str]:
        """Every trace name, in catalog order."""
        return [entry.name for entry in self.entries]

    def get(self, name: str) -> TraceEntry:
        """The entry called ``name``; an unknown name is refused with the known ones."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise unknown_name_error("trace", name, self.names())

    def files(self) -> list[TraceFile]:
        """Every distinct file, in catalog order."""
        seen: dict[str, TraceFile] = {}
        for entry in self.entries:
            seen.setdefault(entry.file.path, entry.file)
        return list(seen.values())

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self.entries)

    def __contains__(self, name: object) -> bool:
        return any(entry.name == name for entry in self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def raw_github_url(repository: str, commit: str, path: str) -> str:
    """``https://raw.githubusercontent.com/<repository>/<commit>/<path>`` (path URL-quoted)."""
    return f"{RAW_GITHUB}/{repository}/{commit}/{quote(path)}"


def trace_reader(name: str, options: Mapping[str, Any], where: str) -> Any:
    """The registered trace reader ``name`` made with ``options`` (validated by its ``Params``;
    a bad option is an InputError naming ``where``)."""
    reader = TRACE_READERS.load(name)
    try:
        params = reader.Params.model_validate(dict(options))
    except ValidationError as err:
        raise input_error_from_validation(
            err, f"{where}: options of reader {name!r}", model=reader.Params
        ) from None
    return reader(params)
