"""Reading user YAML with one clear error for every way it can be wrong, hostile input included.

:func:`read_yaml` (a file) and :func:`parse_yaml` (a string: a ``--set`` value, a ``--param``)
use PyYAML's safe loader with four guards, each refused with
:class:`~coinfer.emulator.errors.InputError` naming the file, line and column:

* **duplicate keys** in a mapping (PyYAML keeps the last one silently);
* **alias bombs** ("billion laughs"): a document whose aliases would expand to more than
  :data:`MAX_EXPANDED_NODES` nodes, or that uses more than :data:`MAX_ALIASES` aliases;
* **nesting** deeper than :data:`MAX_DEPTH` (PyYAML itself would end in ``RecursionError``);
* the file checks of :mod:`coinfer.emulator.text_files` (missing, a directory, too large,
  binary, not UTF-8).

Anchors and aliases of a sensible size, and merge keys (``<<: *defaults``), keep working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from coinfer.emulator.errors import InputError
from coinfer.emulator.text_files import read_text

#: Deepest nesting of mappings and sequences accepted.
MAX_DEPTH = 64
#: Most aliases (``*name``) in one document.
MAX_ALIASES = 1000
#: Most nodes a document may hold once every alias is expanded.
MAX_EXPANDED_NODES = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class HostileYamlError(yaml.YAMLError):
    """A document refused by a guard (its message says which, and where)."""


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the guards of the module."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise HostileYamlError(f"more than {MAX_ALIASES} aliases{_at(mark)}")
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise HostileYamlError(f"nested deeper than {MAX_DEPTH} levels{_at(mark)}")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = seen.get(key)
            except TypeError:  # an unhashable key: the constructor says so below
                continue
            if earlier is not None:
                raise HostileYamlError(
                    f"duplicate key {key!r}{_at(key_node.start_mark)} "
                    f"(first at line {earlier.start_mark.line + 1})"
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _at(mark: Any) -> str:
    return "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"


def _expanded_size(root: Node) -> int:
    """Nodes of the document rooted at ``root`` with every alias expanded (shared nodes counted
    once per use), computed without expanding: each node's size is remembered."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, ScalarNode):
            sizes[id(node)] = 1
            continue
        children: list[Node] = (
            list(node.value)
            if isinstance(node, SequenceNode)
            else [part for pair in node.value for part in pair]
        )
        if children_done:
            total = 1 + sum(sizes[id(child)] for child in children)
            sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _load(text: str) -> Any:
    loader = _GuardedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node)
        if size > MAX_EXPANDED_NODES:
            raise HostileYamlError(
                f"its aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb?)"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_yaml(text: str, where: str, *, source: str | None = None) -> Any:
    """The value of the YAML document ``text``; ``where`` names it in error messages.

    A syntax error or a guard (see the module) raises :class:`InputError` chained to the
    parser's error."""
    try:
        return _load(text)
    except yaml.YAMLError as err:
        raise InputError(
            f"{where} is not valid YAML: {_one_line(err)}", source=source, expected="YAML"
        ) from err


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse the YAML file at ``path``; ``what`` names the file's role in error messages.

    A missing file, a directory, binary or non-UTF-8 content, a syntax error or a guard (see
    the module) raises :class:`InputError` naming the file (its ``source``)."""
    path = Path(path)
    text = read_text(path, what)
    return parse_yaml(text, f"{what} {str(path)!r}", source=str(path))


def _one_line(err: yaml.YAMLError) -> str:
    """The parser's message on one line: its problem and where."""
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [err.context, err.problem]
        text = ", ".join(part for part in parts if part)
        return f"{text or 'syntax error'}{_at(err.problem_mark or err.context_mark)}"
    return " ".join(str(err).split())


def parse_yaml_or_text(text: str, where: str) -> Any:
    """A command-line value: ``text`` parsed as YAML (``0.5``, ``[1, 2]``, ``{a: 1}``), or the
    text itself when it is not YAML; a guard (see the module) still refuses it."""
    try:
        return _load(text)
    except HostileYamlError as err:
        raise InputError(f"{where}: {err}", value=text[:80], expected="a YAML value") from err
    except yaml.YAMLError:
        return text
