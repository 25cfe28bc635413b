"""Label schemes (stance.scheme): validation, round trips, inference from data, comparison."""

from __future__ import annotations

import pytest

from stance.errors import ConfigError, InputError
from stance.resources import bundled_scheme
from stance.scheme import Scheme, check_same_scheme, infer_labels
from tests.schemes import PAK


def test_bundled_schemes_load_and_round_trip() -> None:
    for name in ("pak_afghan", "two_way", "frames5"):
        scheme = bundled_scheme(name)
        assert Scheme.from_dict(scheme.to_dict()) == scheme
    assert PAK.label_list == ["pro_islamabad", "pro_kabul", "neutral"]
    assert PAK.poles == ("pro_islamabad", "pro_kabul") and PAK.none_label == "neutral"
    assert PAK.side_labels() == {"islamabad": "pro_islamabad", "kabul": "pro_kabul"}
    assert {a["side"] for a in PAK.actors} == set(PAK.side_names)
    frames = bundled_scheme("frames5")
    assert not frames.has_slant and len(frames.label_list) == 5 and frames.none_label is None
    assert bundled_scheme("two_way").poles == ("favor", "against")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"labels": ["a"]}, "at least two labels"),
    ({"labels": ["a", "a"]}, "unique"),
    ({"labels": ["a", "b"], "poles": ["a", "c"]}, r"poles \['c'\] are not among its labels"),
    ({"labels": ["a", "b"], "poles": ["a"]}, "exactly two"),
    ({"labels": ["a", "b"], "poles": ["a", "a"]}, "must differ"),
    ({"labels": ["a", "b"], "none_label": "z"}, "none_label 'z'"),
    ({"labels": ["a", "b"], "sides": {"x": "z"}}, "side 'x' maps to 'z'"),
    ({"labels": ["a", "b"], "sides": {"x": None}, "actors": [{"name": "A", "side": "y"}]}, "not one of the scheme's sides"),
])
def test_invalid_schemes_are_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Scheme("bad", **kwargs)


def test_unknown_fields_and_unresolved_labels() -> None:
    with pytest.raises(ConfigError, match="unknown scheme field"):
        Scheme.from_dict({"name": "x", "labels": ["a", "b"], "colours": {}})
    inferred = Scheme("inferred")
    assert not inferred.resolved
    with pytest.raises(ConfigError, match="takes its labels from the data"):
        _ = inferred.label_list
    assert inferred.with_labels(["b", "a"]).label_list == ["b", "a"]


def test_check_label_names_file_line_and_valid_labels() -> None:
    assert PAK.check_label("neutral") == "neutral"
    with pytest.raises(InputError, match=r"gold\.csv:7, field 'label': unknown label 'pro_delhi'") as info:
        PAK.check_label("pro_delhi", path="gold.csv", line=7)
    assert "pro_islamabad, pro_kabul, neutral" in str(info.value)


def test_infer_labels_is_sorted_and_refuses_empty_or_single_label() -> None:
    assert infer_labels(["b", "a", None, "b"]) == ("a", "b")
    with pytest.raises(InputError, match="label column is empty"):
        infer_labels([None, None])
    with pytest.raises(InputError, match="single label"):
        infer_labels(["x", "x"])


def test_check_same_scheme_compares_labels_and_poles_and_names_both() -> None:
    check_same_scheme(PAK, Scheme("renamed", ["neutral", "pro_kabul", "pro_islamabad"],
                                  poles=["pro_islamabad", "pro_kabul"]), "a", "b")
    with pytest.raises(ConfigError, match=r"the model uses scheme 'pak_afghan'.*the data uses scheme 'two_way'"):
        check_same_scheme(PAK, bundled_scheme("two_way"), "the model", "the data")
    with pytest.raises(ConfigError, match="poles"):
        check_same_scheme(PAK, Scheme("flat", PAK.label_list), "a", "b")
