"""How an output table is declared: every column once, with its type, unit, role and meaning.

A :class:`Table` is a sequence of :class:`ColumnGroup` s (columns added together, say those of
the backhaul), each a sequence of :class:`Column` s. Everything else reads the declaration: the
writer (:mod:`coinfer.emulator.trace.writer`) its Arrow schema, the docs their tables of columns
(:mod:`coinfer.emulator.trace.docs`), the summary and the sweeps the columns they need, and the
decomposition checks which parts add up to which total (:attr:`Column.part_of`).

A table is also a record kind (:mod:`coinfer.emulator.records`): ``build(TRACE, name=value, ...)``
makes one row, a tuple in column order.

To add columns, append a group (:meth:`Table.extended`, or a new group at the end of the
declaration): existing columns keep their positions, so files written before still read the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa

#: The Arrow type of a categorical column: strings stored as codes into a dictionary of labels.
CATEGORY = pa.dictionary(pa.int32(), pa.string())
_TYPE_NAMES = {"double": "float64", "float": "float32"}  # the names pandas shows


class Role(StrEnum):
    """What a column says about a request."""

    IDENTITY = "identity"  #: which request, where it came from and went, who decided
    DECISION = "decision"  #: a value the policy chose
    TIME = "time"  #: an instant of the run
    OUTCOME = "outcome"  #: what happened to the request
    LATENCY = "latency"  #: a latency total: the sum of its parts
    LATENCY_PART = "latency part"  #: one stage's share of a latency total
    ENERGY = "energy"  #: an energy total: the sum of its parts
    ENERGY_PART = "energy part"  #: one stage's share of an energy total
    PREDICTION = "prediction"  #: what the policy predicted
    BUDGET = "budget"  #: a limit the request was given
    CONTEXT = "context"  #: what the policy saw when it decided
    BOOKKEEPING = "bookkeeping"  #: about the measurement, not the request


@dataclass(frozen=True)
class Column:
    """One column: its name, Arrow type, SI unit, role and meaning."""

    name: str
    dtype: pa.DataType  #: the type in the file (:data:`CATEGORY` for categorical strings)
    unit: str  #: SI unit ("s", "J", "W", "Hz", "bit"); "1" dimensionless; "" none (labels, flags)
    role: Role
    description: str
    #: the totals this part adds up to, with the other parts of each (latency and energy parts)
    part_of: tuple[str, ...] = ()

    @property
    def categorical(self) -> bool:
        """Stored as codes into a dictionary of labels."""
        return pa.types.is_dictionary(self.dtype)


@dataclass(frozen=True)
class ColumnGroup:
    """Columns that belong together (and were added together), in order."""

    name: str
    description: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Table:
    """A declared table: its groups of columns, in file order.

    Raises ``ValueError`` when built with a repeated column name, or with a part whose total is
    not a column of the table.
    """

    name: str
    description: str
    groups: tuple[ColumnGroup, ...]
    columns: tuple[Column, ...] = field(init=False, repr=False)
    #: the column names in order (the fields of the table as a record kind)
    field_names: tuple[str, ...] = field(init=False, repr=False)
    schema: pa.Schema = field(init=False, repr=False)  #: the Arrow schema of the file
    _by_name: dict[str, Column] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        columns = tuple(column for group in self.groups for column in group.columns)
        by_name = {column.name: column for column in columns}
        if len(by_name) != len(columns):
            repeated = sorted(
                {c.name for c in columns if sum(d.name == c.name for d in columns) > 1}
            )
            raise ValueError(f"table {self.name!r}: repeated columns {repeated}")
        for column in columns:
            unknown = [total for total in column.part_of if total not in by_name]
            if unknown:
                raise ValueError(
                    f"table {self.name!r}: {column.name} is part of unknown columns {unknown}"
                )
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "field_names", tuple(by_name))
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "schema", pa.schema([pa.field(c.name, c.dtype) for c in columns]))

    def column(self, name: str) -> Column:
        """The column ``name`` (KeyError naming the table if there is none)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no column {name!r}") from None

    def require(self, *names: str) -> tuple[str, ...]:
        """``names``, after checking that each is a column (KeyError otherwise)."""
        for name in names:
            self.column(name)
        return names

    def group(self, name: str) -> ColumnGroup:
        """The group ``name`` (KeyError if there is none)."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(f"table {self.name!r} has no column group {name!r}")

    def names_with(self, *roles: Role) -> tuple[str, ...]:
        """The columns of any of ``roles``, in table order."""
        return tuple(c.name for c in self.columns if c.role in roles)

    def parts_of(self, total: str) -> tuple[str, ...]:
        """The columns that add up to ``total``, in table order."""
        self.column(total)
        return tuple(c.name for c in self.columns if total in c.part_of)

    def totals(self) -> tuple[str, ...]:
        """The columns that are the sum of other columns, in table order."""
        summed = {total for c in self.columns for total in c.part_of}
        return tuple(c.name for c in self.columns if c.name in summed)

    def extended(self, group: ColumnGroup) -> Table:
        """This table with ``group`` appended (existing columns keep their positions)."""
        return Table(self.name, self.description, (*self.groups, group))

    def only(self, names: tuple[str, ...], name: str, description: str) -> Table:
        """A table of the columns ``names`` (in that order), as one group: a record kind for
        part of a row."""
        return Table(
            name, description, (ColumnGroup(name, description, tuple(map(self.column, names))),)
        )

    def without(
        self, names: tuple[str, ...], name: str, description: str, first: ColumnGroup
    ) -> Table:
        """``first``, then this table's columns but ``names``, in table order (groups left
        empty dropped): a record kind for a row whose columns ``names`` are given apart."""
        self.require(*names)
        groups = [
            ColumnGroup(g.name, g.description, tuple(c for c in g.columns if c.name not in names))
            for g in self.groups
        ]
        return Table(name, description, (first, *(g for g in groups if g.columns)))

    def markdown(self) -> str:
        """The table of columns for the docs: per group, its columns with their type, unit,
        role and meaning."""
        out: list[str] = []
        for group in self.groups:
            out += [
                f"*{group.name}*: {group.description}",
                "",
                "| column | type | unit | role | meaning |",
                "|---|---|---|---|---|",
            ]
            for c in group.columns:
                role = str(c.role)
                if c.part_of:
                    role += " of " + ", ".join(f"`{total}`" for total in c.part_of)
                kind = "category" if c.categorical else _TYPE_NAMES.get(str(c.dtype), str(c.dtype))
                unit = c.unit or "—"
                out.append(f"| `{c.name}` | {kind} | {unit} | {role} | {c.description} |")
            out.append("")
        return "\n".join(out).rstrip("\n") + "\n"
