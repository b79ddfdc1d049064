"""``coinfer policies``: every policy found by name, and the parameters each one takes.

``coinfer policies`` prints one line per policy (name and summary); ``coinfer policies show
NAME`` prints one policy's parameters (type, default, meaning, bounds), ``NAME`` being a
registered name or ``module:Class``. With ``--json`` both print the same data as JSON: name,
summary, source (``builtin``, the distribution of an entry point, or the module) and
parameters. The registry is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from coinfer.emulator.tables import format_table

if TYPE_CHECKING:
    from coinfer.policies.base import Policy

#: JSON-schema bound keywords and how the table shows them.
_BOUNDS = (
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
    ("minItems", "items ≥"),
    ("maxItems", "items ≤"),
)


def add_commands(commands: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Register ``coinfer policies`` (and ``policies show``) on the top-level parser."""
    policies = commands.add_parser(
        "policies", parents=[json_flag], help="list decision policies (built-in and plug-ins)"
    )
    actions = policies.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser(
        "show", parents=[json_flag], help="the parameters of one policy: type, default, meaning"
    )
    show.add_argument("name", help="policy name, or module:Class")


def policies_command(args: argparse.Namespace) -> str:
    """``coinfer policies [show NAME]``: a table, or JSON with ``--json``."""
    from coinfer.policies.registry import known_policies, policy_class, policy_source

    as_json = getattr(args, "json", False)
    if getattr(args, "action", None) == "show":
        entry = describe(policy_class(args.name), policy_source(args.name))
        return json.dumps(entry, indent=2) if as_json else format_policy(entry)
    entries = [describe(cls, policy_source(name)) for name, cls in known_policies().items()]
    if as_json:
        return json.dumps(entries, indent=2)
    return format_table(("name", "summary"), [(e["name"], e["summary"]) for e in entries])


def describe(cls: type[Policy], source: str) -> dict[str, Any]:
    """Name, one-line summary, source and parameters of a policy class (JSON-ready)."""
    doc = (cls.__doc__ or "").strip().splitlines()
    return {
        "name": cls.name,
        "summary": cls.summary or (doc[0] if doc else ""),
        "source": source,
        "parameters": parameters(cls),
    }


def parameters(cls: type[Policy]) -> list[dict[str, Any]]:
    """One entry per field of ``cls.Params``: name, type, default, required, description, bounds.

    Types and bounds come from the pydantic JSON schema (``integer | null``, ``minimum: 0``);
    a non-finite default is written as the string ``"inf"`` (JSON has no infinity).
    """
    from pydantic_core import to_jsonable_python

    schema = cls.Params.model_json_schema()
    properties = schema.get("properties", {})
    rows = []
    for name, info in cls.Params.model_fields.items():
        prop = properties.get(name, {})
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        rows.append(
            {
                "name": name,
                "type": _type_name(prop),
                "default": _json_number(to_jsonable_python(default)),
                "required": required,
                "description": info.description or "",
                "constraints": _constraints(prop),
            }
        )
    return rows


def _type_name(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " | ".join(_type_name(option) for option in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(json.dumps(value) for value in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    kind = prop.get("type", "any")
    if kind == "array" and "items" in prop:
        return f"array[{_type_name(prop['items'])}]"
    return kind


def _constraints(prop: dict[str, Any]) -> dict[str, Any]:
    found = {key: prop[key] for key, _ in _BOUNDS if key in prop}
    for option in prop.get("anyOf", ()):
        found.update({key: option[key] for key, _ in _BOUNDS if key in option})
    return found


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_number(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_number(item) for key, item in value.items()}
    return value


def format_policy(entry: dict[str, Any]) -> str:
    """One policy as a heading and a parameter table."""
    head = f"{entry['name']} ({entry['source']}): {entry['summary']}"
    if not entry["parameters"]:
        return head + "\n\nno parameters"
    rows = []
    for row in entry["parameters"]:
        bounds = ", ".join(
            f"{symbol} {row['constraints'][key]}"
            for key, symbol in _BOUNDS
            if key in row["constraints"]
        )
        meaning = row["description"] + (f" [{bounds}]" if bounds else "")
        default = (
            "required"
            if row["required"]
            else "none"
            if row["default"] is None
            else json.dumps(row["default"], ensure_ascii=False)
        )
        rows.append((row["name"], row["type"], default, meaning))
    return head + "\n\n" + format_table(("parameter", "type", "default", "meaning"), rows)
