"""Reading and writing topology graphs: GraphML (``.graphml``) and node-link JSON (``.json``).

A file drawn elsewhere (yEd, Gephi, a script) becomes a topology when its nodes and edges carry
the attributes of :mod:`topologies.specs`. Both readers refuse a duplicate node id or a repeated
edge (which networkx would otherwise merge silently) naming it; the attributes themselves are
checked by :func:`topologies.validate.validate_graph`.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx

from coinfer.emulator.errors import InputError
from coinfer.emulator.text_files import read_text

FORMATS = (".graphml", ".json")
_GRAPHML_NS = "{http://graphml.graphdrawing.org/xmlns}"


def load_topology(path: str | Path) -> nx.Graph:
    """The graph stored in ``path`` (GraphML or node-link JSON, by suffix)."""
    path = Path(path)
    where = f"topology file {str(path)!r}"
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{where}: got suffix {suffix!r}, expected one of {', '.join(FORMATS)}")
    text = read_text(path, "topology file")
    graph = _read_graphml(text, where) if suffix == ".graphml" else _read_json(text, where)
    return _simple(graph, where)


def save_topology(graph: nx.Graph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` as GraphML or node-link JSON (by suffix); returns the path.

    Attributes that are None are left out; an infinite or NaN number is refused (neither format
    has a portable spelling for it).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"output {str(path)!r}: got suffix {suffix!r}, expected one of {', '.join(FORMATS)}"
        )
    clean = nx.Graph(**{k: v for k, v in graph.graph.items() if v is not None})
    for node, data in graph.nodes(data=True):
        clean.add_node(str(node), **_portable(data, f"node {node!r}"))
    for u, v, data in graph.edges(data=True):
        clean.add_edge(str(u), str(v), **_portable(data, f"edge {u!r}-{v!r}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".graphml":
        nx.write_graphml(clean, path)
    else:
        data = nx.node_link_data(clean, edges="edges")
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def _portable(data: dict[str, Any], where: str) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{where}: {key}={value!r} cannot be saved; expected a finite number")
        out[key] = value
    return out


def _read_graphml(text: str, where: str) -> nx.Graph:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise InputError(f"{where}: not valid GraphML ({err})") from err
    ids = [node.get("id") for node in root.iter(f"{_GRAPHML_NS}node")]
    _no_repeats(ids, "node id", where)
    pairs = [frozenset((e.get("source"), e.get("target"))) for e in root.iter(f"{_GRAPHML_NS}edge")]
    _no_repeated_edges(pairs, where)
    try:
        return nx.parse_graphml(text)
    except (nx.NetworkXError, ET.ParseError, ValueError, KeyError) as err:
        raise InputError(f"{where}: not valid GraphML ({err})") from err


def _read_json(text: str, where: str) -> nx.Graph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise InputError(f"{where}: expected node-link JSON, a mapping with a 'nodes' list")
    key = "edges" if "edges" in data else "links"
    edges = data.get(key, [])
    if not isinstance(edges, list) or not all(isinstance(n, dict) for n in data["nodes"] + edges):
        raise InputError(f"{where}: expected node-link JSON: 'nodes' and '{key}' lists of mappings")
    for index, node in enumerate(data["nodes"]):
        if "id" not in node:
            raise InputError(f"{where}: nodes[{index}] has no 'id'")
    _no_repeats([str(n["id"]) for n in data["nodes"]], "node id", where)
    for index, edge in enumerate(edges):
        if "source" not in edge or "target" not in edge:
            raise InputError(f"{where}: {key}[{index}] needs a 'source' and a 'target'")
    _no_repeated_edges([frozenset((str(e["source"]), str(e["target"]))) for e in edges], where)
    try:
        return nx.node_link_graph(data, edges=key)
    except (nx.NetworkXError, KeyError, TypeError) as err:
        raise InputError(f"{where}: not valid node-link JSON ({err})") from err


def _no_repeats(ids: list[Any], what: str, where: str) -> None:
    repeated = [item for item, n in Counter(ids).items() if n > 1]
    if repeated:
        raise InputError(f"{where}: duplicate {what} {repeated[0]!r}")


def _no_repeated_edges(pairs: list[frozenset], where: str) -> None:
    repeated = [pair for pair, n in Counter(pairs).items() if n > 1]
    if repeated:
        ends = sorted(repeated[0]) * (2 if len(repeated[0]) == 1 else 1)
        raise InputError(
            f"{where}: duplicate edge {ends[0]!r}-{ends[1]!r} (one link per pair of nodes)"
        )


def _simple(graph: nx.Graph, where: str) -> nx.Graph:
    """An undirected simple graph with string node ids (a directed file's edges become links)."""
    simple = nx.Graph(**graph.graph)
    for node, data in graph.nodes(data=True):
        simple.add_node(str(node), **data)
    for u, v, data in graph.edges(data=True):
        if simple.has_edge(str(u), str(v)):
            raise InputError(f"{where}: duplicate edge {str(u)!r}-{str(v)!r} (both directions)")
        simple.add_edge(str(u), str(v), **data)
    return simple
