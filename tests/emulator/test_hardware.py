"""The hardware catalog: paper values, data-sheet peaks, and user classes from YAML."""

from types import MappingProxyType

import pytest

from coinfer.emulator.cli.main import main
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.hardware import HardwareCatalog, HardwareSpec, load_hardware_file
from coinfer.emulator.model.hardware_sources import NOT_STATED, builtin_sources


@pytest.fixture(scope="module")
def catalog() -> HardwareCatalog:
    return HardwareCatalog.builtin()


def test_catalog_has_every_class_the_design_names(catalog):
    assert {s.name for s in catalog.devices()} == {
        "paper-device",
        "phone-soc",
        "jetson-orin-nano",
        "jetson-agx-orin",
        "laptop-cpu",
    }
    assert {s.name for s in catalog.servers()} == {"paper-server", "l4", "a100", "h100"}


def test_paper_classes_carry_the_papers_values(catalog):
    device, server = catalog.get("paper-device"), catalog.get("paper-server")
    assert (device.f_max_hz, device.flops_per_cycle, device.pue) == (1e9, 32, 1.0)
    assert device.power_coeff_w_per_hz3 == 5e-29 and device.max_tx_power_w == 0.5
    assert (server.f_max_hz, server.flops_per_cycle, server.pue) == (4e9, 128, 2.0)
    assert server.power_coeff_w_per_hz3 == 1e-28
    # η·φ·f³: 0.05 W for the device at 1 GHz, 2 × 6.4 W for the server at 4 GHz.
    assert device.power_w(1e9) == pytest.approx(0.05)
    assert server.power_w(4e9) == pytest.approx(12.8)
    # η·φ·f²/c: 5e-29 · 1e18 / 32 J per FLOP.
    assert device.energy_per_flop_j(1e9) == pytest.approx(5e-29 * 1e18 / 32)


@pytest.mark.parametrize(
    ("name", "peak_flops", "power_w"),
    [
        ("l4", 121e12, 72),  # dense FP16 tensor, data sheet
        ("a100", 312e12, 400),
        ("h100", 989.4e12, 700),
        ("jetson-orin-nano", 10.0e12, 15),  # 40 sparse INT8 TOPS / 4
        ("jetson-agx-orin", 42.5e12, 60),  # 170 sparse INT8 GPU TOPS / 4
    ],
)
def test_gpu_peaks_and_power_match_data_sheets(catalog, name, peak_flops, power_w):
    spec = catalog.get(name)
    assert spec.peak_flops_per_s == pytest.approx(peak_flops, rel=0.03)
    assert spec.power_w(spec.f_max_hz) / spec.pue == pytest.approx(power_w)


def test_devices_have_transmit_power_and_servers_do_not(catalog):
    assert all(s.max_tx_power_w is not None for s in catalog.devices())
    assert all(s.max_tx_power_w is None for s in catalog.servers())


def test_get_with_kind_refuses_the_other_side(catalog):
    with pytest.raises(InputError, match="'h100' is a server, expected a device"):
        catalog.get("h100", kind="device")
    with pytest.raises(InputError, match=r"unknown device class 'tpu'.*phone-soc"):
        catalog.get("tpu", kind="device")


def test_spec_validation_names_the_field():
    with pytest.raises(ValueError, match="max_tx_power_w is required"):
        HardwareSpec(
            name="x",
            kind="device",
            f_min_hz=0,
            f_max_hz=1e9,
            flops_per_cycle=1,
            power_coeff_w_per_hz3=1e-28,
            memory_bandwidth_bytes_per_s=1e9,
            memory_bytes=1e9,
        )


def test_user_classes_from_yaml_extend_the_catalog(tmp_path, catalog):
    path = tmp_path / "lab.yaml"
    path.write_text(
        "hardware:\n"
        "  - name: rpi5\n    kind: device\n    f_min_hz: 1.5e9\n    f_max_hz: 2.4e9\n"
        "    flops_per_cycle: 32\n    power_coeff_w_per_hz3: 5.0e-28\n"
        "    memory_bandwidth_bytes_per_s: 17e9\n    memory_bytes: 8e9\n    max_tx_power_w: 0.1\n"
    )
    extended = catalog.with_files([path])
    assert "rpi5" in extended and len(extended) == len(catalog) + 1
    assert extended.get("rpi5").peak_flops_per_s == pytest.approx(76.8e9)


def test_user_class_cannot_shadow_a_builtin(tmp_path, catalog):
    path = tmp_path / "dup.yaml"
    path.write_text(
        "- {name: h100, kind: server, f_min_hz: 0, f_max_hz: 1e9, flops_per_cycle: 1,"
        " power_coeff_w_per_hz3: 1e-28, memory_bandwidth_bytes_per_s: 1, memory_bytes: 1}\n"
    )
    with pytest.raises(InputError, match="got 'h100', expected a name not already"):
        catalog.with_files([path])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just a string\n", "got a str at the top level"),
        ("- {name: a, kind: phone}\n", r"kind: got 'phone'"),
        ("[unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_hardware_files_are_refused_clearly(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_hardware_file(path)


def test_missing_hardware_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_hardware_file(tmp_path / "nope.yaml")


SERVER = MappingProxyType(
    dict(
        name="x",
        kind="server",
        f_min_hz=0,
        f_max_hz=2e9,
        flops_per_cycle=1000,
        power_coeff_w_per_hz3=100.0 / 2e9**3,  # 100 W at the top clock
        memory_bandwidth_bytes_per_s=1e12,
        memory_bytes=80e9,
    )
)


class TestServingFields:
    """Calibration of the step-time models: defaults are the ideal roofline, ranges are checked."""

    def test_defaults_are_the_ideal_roofline_without_overhead(self):
        spec = HardwareSpec(**SERVER)
        assert (spec.mfu_prefill, spec.mfu_decode, spec.bandwidth_efficiency) == (1.0, 1.0, 1.0)
        assert (spec.step_overhead_s, spec.layer_overhead_s) == (0.0, 0.0)

    def test_the_paper_classes_keep_the_ideal_defaults(self, catalog):
        for name in ("paper-device", "paper-server"):
            spec = catalog.get(name)
            assert (spec.mfu_prefill, spec.mfu_decode, spec.bandwidth_efficiency) == (1, 1, 1)

    def test_phase_powers_default_to_no_idle_power_and_the_power_at_the_top_clock(self):
        spec = HardwareSpec(**SERVER)
        assert spec.phase_power_w("idle") == 0.0
        assert spec.phase_power_w("prefill") == pytest.approx(100.0)
        assert spec.phase_power_w("decode") == pytest.approx(100.0)

    def test_given_phase_powers_are_used_as_given(self):
        spec = HardwareSpec(
            **SERVER, idle_power_w=50.0, prefill_power_w=400.0, decode_power_w=250.0
        )
        assert [spec.phase_power_w(p) for p in ("idle", "prefill", "decode")] == [50, 400, 250]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("mfu_prefill", 0.0),
            ("mfu_decode", 1.2),
            ("bandwidth_efficiency", -0.1),
            ("step_overhead_s", -1e-3),
            ("layer_overhead_s", -1e-6),
            ("prefill_power_w", 0.0),
            ("idle_power_w", -5.0),
        ],
    )
    def test_out_of_range_values_are_refused_with_the_field_named(self, field, value):
        with pytest.raises(ValueError, match=field):
            HardwareSpec(**{**SERVER, field: value})


# ---- each value's source, as `coinfer hardware show` prints it ---------------------------------


def test_every_value_of_a_builtin_class_states_its_source(catalog):
    """Every value the catalog gives has a comment saying where it comes from (or that it is an
    assumption); the fields a class leaves out are at their default."""
    sources = builtin_sources()
    assert set(sources) == {spec.name for spec in catalog}
    for name, fields in sources.items():
        values = set(fields) - {"name", "kind", "description"}
        unstated = [field for field in values if fields[field] == NOT_STATED]
        assert not unstated, (name, unstated)


def test_hardware_show_prints_each_values_source(capsys):
    assert main(["hardware", "show", "a100"]) == 0
    rows = {}
    for line in capsys.readouterr().out.splitlines()[2:]:
        field, _, rest = line.partition(" ")
        if field:
            rows[field] = rest.split(None, 1)
    assert rows["f_max_hz"] == ["1410000000.0", "NVIDIA: boost clock 1410 MHz"]
    # a value named by a module constant takes the constant's comment
    assert rows["pue"] == ["1.58", "assumption: Uptime Institute 2023 global average PUE"]
    assert rows["step_overhead_s"] == ["0.0", "default"]


def test_a_class_from_a_hardware_file_says_so(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "hardware:\n  - {name: my-gpu, kind: server, f_min_hz: 1.0e8, f_max_hz: 1.0e9, "
        "flops_per_cycle: 64, power_coeff_w_per_hz3: 1.0e-27, memory_bandwidth_bytes_per_s: "
        "1.0e11, memory_bytes: 1.0e10}\n",
        encoding="utf-8",
    )
    assert main(["hardware", "show", "my-gpu", "--hardware-file", str(path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("f_max_hz"))
    assert line.split()[-2:] == ["hardware", "file"]
