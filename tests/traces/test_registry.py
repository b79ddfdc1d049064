"""The registry: names, download addresses, checksums of the real files, and where files are
looked for."""

from __future__ import annotations

import re

import pytest

from coinfer.emulator.cli.errors import FLAGS
from coinfer.emulator.errors import InputError
from coinfer.emulator.plugins import TRACE_READERS
from coinfer.traces import ArrivalTrace, LinkCapacityTrace, PositionTrace, SnrTrace
from coinfer.traces.checksum import file_sha256
from coinfer.traces.locate import cache_dir, find_trace_file, search_dirs
from coinfer.traces.registry import KINDS, TraceRegistry, trace_reader

TYPES = {
    "capacity": LinkCapacityTrace,
    "snr": SnrTrace,
    "arrivals": ArrivalTrace,
    "positions": PositionTrace,
}
ORIGINS = {  # from ../shared/traces/README.md
    "mahimahi": ("ravinet/mahimahi", "ae477d437615b972217498ba52be07db17a15618"),
    "azure-llm-2023": ("Azure/AzurePublicDataset", "b469a113cedca53ddc3bdea71a143dc4b7d8700c"),
    "mooncake": ("kvcache-ai/Mooncake", "3b5a594133958449a1feaf1c9e0fc1b553e34a28"),
    "5gophers": ("jhzuo/Offloading-FL", "7133b70d7dd75e9234e26d9df3b4896f52a0ea4b"),
    "ucc-5g": ("uccmisl/5Gdataset", "306d92eba81cb4f1195d8b8eba625666a02a10ec"),
}


@pytest.fixture(scope="module")
def registry() -> TraceRegistry:
    return TraceRegistry.builtin()


def test_every_entry_is_complete(registry):
    names = registry.names()
    assert len(names) == len(set(names))
    for entry in registry:
        assert entry.kind in KINDS
        assert entry.reader in TRACE_READERS.builtin_names()
        trace_reader(entry.reader, entry.options, entry.name)  # its options are the reader's
        assert re.fullmatch(r"[0-9a-f]{64}", entry.file.sha256)
        assert entry.file.size_bytes > 0
        assert entry.source.license and entry.source.citation and entry.description
        repository, commit = ORIGINS[entry.source.name]
        assert entry.file.url.startswith(
            f"https://raw.githubusercontent.com/{repository}/{commit}/"
        )


def test_the_catalog_covers_the_traces_the_issue_names(registry):
    mahimahi = [name for name in registry.names() if name.startswith("mahimahi/")]
    assert len(mahimahi) == 13
    for name in [
        "mahimahi/Verizon-LTE-short.down",
        "azure-2023/code",
        "azure-2023/conv",
        "mooncake/conversation",
        "5gophers/walking",
        "5gophers/driving-1/verizon",
    ]:
        assert name in registry
    assert registry.get("azure-2023/code").file.url == (
        "https://raw.githubusercontent.com/Azure/AzurePublicDataset/"
        "b469a113cedca53ddc3bdea71a143dc4b7d8700c/data/AzureLLMInferenceTrace_code.csv"
    )
    kinds = {entry.kind for entry in registry}
    assert kinds == set(KINDS)


def test_unknown_names_are_refused_with_the_known_ones(registry):
    with pytest.raises(InputError, match="unknown trace 'mahimahi/nope'; expected one of"):
        registry.get("mahimahi/nope")
    with pytest.raises(InputError, match="unknown trace reader 'parquet'; expected one of: "):
        TRACE_READERS.load("parquet")
    with pytest.raises(InputError, match=r"options of reader 'mahimahi':\n?.*bin_s: got -1"):
        trace_reader("mahimahi", {"bin_s": -1}, "trace 'x'")


def test_checksums_and_sizes_match_the_real_files(registry, shared_dir):
    checked = 0
    for file in registry.files():
        path = shared_dir / file.path
        if not path.is_file():
            continue
        assert path.stat().st_size == file.size_bytes, file.path
        assert file_sha256(path) == file.sha256, file.path
        checked += 1
    assert checked == len(registry.files())


def test_every_entry_loads_from_the_real_files_as_its_kind(registry, shared_dir):
    for entry in registry:
        path = shared_dir / entry.file.path
        if not path.is_file():
            continue
        trace = entry.load(path)
        assert isinstance(trace, TYPES[entry.kind]), entry.name
        assert trace.provenance.source == entry.name
        assert trace.provenance.license == entry.source.license
        assert trace.provenance.url == entry.file.url


# ---- where files are looked for ---------------------------------------------------------------


def test_search_order_is_option_then_environment_then_cache(tmp_path):
    env = {"COINFER_TRACE_DIR": str(tmp_path / "env"), "COINFER_CACHE_DIR": str(tmp_path / "c")}
    dirs = search_dirs(tmp_path / "opt", None, env)
    assert dirs == [
        ("trace_dir", tmp_path / "opt"),
        ("$COINFER_TRACE_DIR", tmp_path / "env"),
        ("cache", tmp_path / "c"),
    ]
    assert cache_dir(None, {"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "coinfer" / "traces"
    assert cache_dir(tmp_path / "x", env) == tmp_path / "x"
    assert cache_dir(None, {}).parts[-3:] == (".cache", "coinfer", "traces")


def test_the_first_directory_holding_the_file_wins(registry, tmp_path):
    entry = registry.get("mahimahi/Verizon-LTE-short.down")
    for where in ("env", "cache"):
        (tmp_path / where / "mahimahi").mkdir(parents=True)
        (tmp_path / where / entry.file.path).write_text("1\n")
    env = {"COINFER_TRACE_DIR": str(tmp_path / "env"), "COINFER_CACHE_DIR": str(tmp_path / "cache")}
    assert find_trace_file(entry, tmp_path / "opt", None, env) == tmp_path / "env" / entry.file.path
    assert find_trace_file(entry, None, None, {"COINFER_CACHE_DIR": str(tmp_path / "cache")}) == (
        tmp_path / "cache" / entry.file.path
    )


def test_a_missing_file_says_where_it_looked_and_how_to_fetch_it(registry, tmp_path):
    entry = registry.get("azure-2023/conv")
    with pytest.raises(InputError) as info:
        find_trace_file(entry, tmp_path / "opt", tmp_path / "cache", {})
    message = str(info.value)
    assert str(tmp_path / "opt" / entry.file.path) in message
    assert str(tmp_path / "cache" / entry.file.path) in message
    assert "coinfer traces fetch azure-2023/conv" in message
    assert "`trace_dir`" in message and "$COINFER_TRACE_DIR" in message
    assert "point --trace-dir or $COINFER_TRACE_DIR at" in info.value.worded(FLAGS)
