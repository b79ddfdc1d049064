"""Bad input is an InputError: a readable message, and the same facts as fields for programs."""

import pickle
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from coinfer.emulator.errors import InputError, Problem, unknown_name_error
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.scenario.schema import apply_overrides, load_scenario, scenario_from_dict
from coinfer.policies.registry import policy_class
from tests.policies.plugins import write_module

SCENARIO = """\
requests: 5
devices:
  - name: phones
    arrivals: {process: poisson, rate_per_s: -1}
"""


def minimal(**changes):
    data = {
        "requests": 10,
        "devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 1.0}}],
    }
    data.update(changes)
    return data


def test_an_input_error_is_a_value_error_whose_message_is_unchanged():
    err = InputError("seed: got -1, expected >= 0", path="seed", value=-1, expected=">= 0")
    assert isinstance(err, ValueError)
    assert str(err) == "seed: got -1, expected >= 0"
    assert (err.path, err.value, err.expected, err.source) == ("seed", -1, ">= 0", None)
    assert err.problems == (Problem("seed", "seed: got -1, expected >= 0", -1, ">= 0"),)


def test_a_bad_scenario_file_names_field_value_expectation_and_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    err = caught.value
    assert str(err) == (
        f"invalid scenario {str(path)!r}: "
        "devices[0].arrivals.rate_per_s: got -1, expected Input should be greater than 0"
    )  # one problem: not also "devices: should have at least 1 item", its consequence
    assert err.path == "devices[0].arrivals.rate_per_s"  # those of the first problem
    assert err.problems[0].shown_at is None  # the message shows the field's own path
    assert err.value == -1 and err.expected == "Input should be greater than 0"
    assert err.source == str(path)


def test_every_problem_of_a_scenario_is_kept():
    data = minimal(seed=-3, warmup_s="soon")
    with pytest.raises(InputError) as caught:
        scenario_from_dict(data)
    problems = {problem.path: problem for problem in caught.value.problems}
    assert set(problems) == {"seed", "warmup_s"}
    assert problems["seed"].value == -3 and problems["warmup_s"].value == "soon"
    assert str(caught.value).splitlines()[1:] == [f"  {p}" for p in caught.value.problems]


def test_a_problem_of_the_whole_scenario_has_no_path():
    with pytest.raises(InputError) as caught:
        scenario_from_dict(minimal(duration_s=5.0))
    assert caught.value.path is None
    assert str(caught.value) == (
        "invalid scenario: <root>: give exactly one of duration_s and requests"
    )


def test_a_bad_override_names_the_argument_and_the_part_of_the_path():
    with pytest.raises(InputError) as caught:
        apply_overrides(minimal(), ["devices.3.count=1"])
    err = caught.value
    assert str(err) == "override devices.3: got index '3', expected 0..0"
    assert err.argument == "override" and err.path == "devices.3"
    assert (err.value, err.expected) == ("3", "0..0")
    assert err.worded({"override": "--set"}) == "--set devices.3: got index '3', expected 0..0"


def test_an_override_without_a_value_names_only_the_argument():
    with pytest.raises(InputError) as caught:
        apply_overrides(minimal(), ["novalue"])
    assert str(caught.value) == "override: got 'novalue', expected dotted.path=value"
    assert caught.value.worded({}) == str(caught.value)  # no wording given: the library's own


def test_unknown_names_carry_the_name_and_the_known_ones():
    with pytest.raises(InputError) as caught:
        HardwareCatalog.builtin().get("h200", "device")
    assert caught.value.value == "h200"
    assert caught.value.expected.startswith("one of: ") and "paper-device" in caught.value.expected
    with pytest.raises(InputError) as caught:
        policy_class("oracle")
    assert caught.value.value == "oracle"
    assert caught.value.expected.endswith(
        "; or module:Class naming a subclass of coinfer.policies.base.Policy"
    )
    err = unknown_name_error("trace", "x", ["b", "a"])
    assert str(err) == "unknown trace 'x'; expected one of: a, b"


def test_within_prefixes_the_context_and_completes_the_path():
    err = InputError("got -1, expected >= 0", path="split", value=-1).within(
        "policy 'fixed'", path="policy.params"
    )
    assert str(err) == "policy 'fixed': got -1, expected >= 0"
    assert err.path == "policy.params.split" and err.context == ("policy 'fixed'",)
    first_line = InputError("no such file").within("devices[0].link_trace.file", path="x")
    assert first_line.path == "x"


def test_within_keeps_a_path_inside_another_file():
    err = InputError("bad", path="blocks[2].flops", source="tiny.yaml")
    assert err.within("devices[0]", path="devices[0].model").path == "blocks[2].flops"


def test_an_error_re_raised_with_a_context_keeps_its_cause():
    def read() -> None:
        try:
            yaml.safe_load("a: [")
        except yaml.YAMLError as cause:
            raise InputError("not valid YAML", source="f.yaml") from cause

    with pytest.raises(InputError) as caught:
        try:
            read()
        except InputError as err:
            err.within("devices[0]")
            raise
    assert str(caught.value) == "devices[0]: not valid YAML"
    assert isinstance(caught.value.__cause__, yaml.YAMLError)


def test_a_validation_error_is_chained_to_pydantics_report():
    with pytest.raises(InputError) as caught:
        scenario_from_dict(minimal(seed=-1))
    assert isinstance(caught.value.__cause__, ValidationError)


def test_a_plug_in_that_fails_to_import_is_the_cause(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(tmp_path))
    module = write_module(tmp_path, "raise RuntimeError('boom at import')\n")
    with pytest.raises(InputError) as caught:
        policy_class(f"{module}:X")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert str(caught.value.__cause__) == "boom at import"


def test_an_error_survives_pickling_with_its_fields():
    """Sweep runs on other processes send their errors back pickled."""
    err = InputError("got index '3', expected 0..0", subject="devices.3", path="devices.3")
    err.through("override").within("sweep 's.yaml'")
    copy = pickle.loads(pickle.dumps(err))
    assert (
        str(copy) == str(err) == "sweep 's.yaml': override devices.3: got index '3', expected 0..0"
    )
    assert (copy.path, copy.argument, copy.context) == ("devices.3", "override", err.context)
    assert copy.worded({"override": "--set"}) == err.worded({"override": "--set"})


def test_a_field_of_several_forms_reports_the_form_the_value_has():
    """``distance_m`` is a number or a range: a NaN is reported as a number that is not finite,
    not also as "not a valid dictionary", and under the field's own path."""
    with pytest.raises(InputError) as caught:
        scenario_from_dict(
            minimal(devices=[{**minimal()["devices"][0], "distance_m": float("nan")}])
        )
    assert [str(problem) for problem in caught.value.problems] == [
        "devices[0].distance_m: got nan, expected Input should be a finite number"
    ]


def test_true_is_not_a_count():
    with pytest.raises(InputError, match=r"devices\[0\]: count: got true, expected a number"):
        scenario_from_dict(minimal(devices=[{**minimal()["devices"][0], "count": True}]))


# ---- misspelt fields: "did you mean", and no second error caused by the first ----------------

PAPER = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "paper-single.yaml"


def test_a_misspelt_field_gets_the_field_it_is_closest_to():
    with pytest.raises(InputError) as refused:
        load_scenario(PAPER, ["duraton_s=3"])
    assert str(refused.value).endswith(
        "duraton_s: unknown field 'duraton_s' (got 3); did you mean 'duration_s'?"
    )


def test_a_misspelt_required_field_is_one_error_not_also_a_missing_one(tmp_path):
    text = PAPER.read_text(encoding="utf-8")
    path = tmp_path / "typo.yaml"
    path.write_text(text.replace("arrivals:", "arivals:"), encoding="utf-8")
    with pytest.raises(InputError) as refused:
        load_scenario(path)
    assert len(refused.value.problems) == 1
    assert "did you mean 'arrivals'?" in str(refused.value) and "missing" not in str(refused.value)


@pytest.mark.parametrize(
    ("override", "meant"),
    [
        ("devices.0.arrivals.rate_per_sec=3", "rate_per_s"),  # a registered member's parameter
        ("channel.fading.coherence_time=1", "coherence_time_s"),
        ("devices.0.hardwre=x", "hardware"),
    ],
)
def test_did_you_mean_reaches_nested_and_plug_in_fields(override, meant):
    with pytest.raises(InputError, match=f"did you mean '{meant}'"):
        load_scenario(PAPER, [override])


def test_a_field_close_to_none_lists_the_fields_of_its_model():
    with pytest.raises(InputError) as refused:
        load_scenario(PAPER, ["devices.0.zzzz=3"])
    assert "unknown field 'zzzz' (got 3), expected one of the fields name, count," in str(
        refused.value
    )
