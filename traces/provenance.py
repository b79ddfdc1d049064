"""Where a trace comes from: its source, license, citation and origin address."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Provenance:
    """Provenance of one trace object.

    ``source`` names the trace (a registry name such as ``mahimahi/Verizon-LTE-short.down``, or
    the file name of a user file); ``url`` is its public origin (empty for a user file);
    ``path`` the local file it was read from; ``notes`` how it was converted.
    """

    source: str
    license: str = "unknown"
    citation: str = ""
    url: str = ""
    path: str = ""
    notes: str = ""

    @classmethod
    def user_file(cls, path: object, notes: str = "") -> Provenance:
        """Provenance of a file the user supplies (no known license or origin)."""
        name = str(path)
        return cls(source=name.replace("\\", "/").rsplit("/", 1)[-1], path=name, notes=notes)

    def with_notes(self, notes: str) -> Provenance:
        """A copy with ``notes`` appended to the existing notes."""
        joined = f"{self.notes}; {notes}" if self.notes else notes
        return replace(self, notes=joined)

    def to_dict(self) -> dict[str, str]:
        """JSON-ready fields."""
        return {
            "source": self.source,
            "license": self.license,
            "citation": self.citation,
            "url": self.url,
            "path": self.path,
            "notes": self.notes,
        }
