"""Class rules: winner (top class at least its threshold) and any-above (a class exceeding its own), per-class
thresholds and the thresholds file."""

from __future__ import annotations

import warnings

import pytest

from ifcbkit import FormatError, NotFoundError
from ifcbkit.errors import IfcbWarning
from ifcbkit.science.class_rules import (
    UnknownClassWarning,
    assign,
    check_rule,
    parse_thresholds,
    read_thresholds,
    resolve_thresholds,
)

CLASSES = ("Chaetoceros", "Dinophysis", "detritus")


def test_winner_counts_the_top_class_at_or_above_its_own_threshold():
    thresholds = (0.5, 0.9, 0.3)
    assert assign((0.6, 0.3, 0.1), thresholds, "winner") == 0
    assert assign((0.5, 0.3, 0.2), thresholds, "winner") == 0  # exactly at: at least
    assert assign((0.1, 0.85, 0.05), thresholds, "winner") is None  # top class below its own threshold
    # Dinophysis is below 0.9 but detritus passes its 0.3: winner still says no class
    assert assign((0.05, 0.55, 0.4), thresholds, "winner") is None


def test_any_above_takes_a_class_exceeding_its_own_threshold():
    thresholds = (0.5, 0.9, 0.3)
    assert assign((0.05, 0.55, 0.4), thresholds, "any-above") == 2  # not the top class, but over its threshold
    assert assign((0.5, 0.3, 0.2), thresholds, "any-above") is None  # exactly at: does not exceed
    assert assign((0.5, 0.1, 0.3), thresholds, "any-above") is None
    # two classes exceed theirs: the higher-scoring of them
    assert assign((0.55, 0.05, 0.4), thresholds, "any-above") == 0
    assert assign((0.35, 0.25, 0.4), (0.3, 0.9, 0.3), "any-above") == 2


def test_the_rules_differ_exactly_at_a_common_threshold():
    assert assign((0.7, 0.2, 0.1), (0.7,) * 3, "winner") == 0
    assert assign((0.7, 0.2, 0.1), (0.7,) * 3, "any-above") is None
    assert assign((0.71, 0.2, 0.1), (0.7,) * 3, "any-above") == 0


def test_ties_go_to_the_first_class_and_nan_never_wins():
    assert assign((0.8, 0.8, 0.1), (0.5,) * 3, "winner") == 0
    assert assign((0.8, 0.8, 0.1), (0.5,) * 3, "any-above") == 0
    assert assign((float("nan"), 0.6, 0.1), (0.5,) * 3, "winner") == 1


def test_rules_are_checked():
    assert check_rule("any-above") == "any-above"
    with pytest.raises(ValueError, match="winner, any-above"):
        check_rule("max")
    with pytest.raises(ValueError, match="rule"):
        assign((0.5,), (0.5,), "max")  # type: ignore[arg-type]


def test_resolve_thresholds_number_or_mapping_with_default():
    assert resolve_thresholds(CLASSES, 0.4) == (0.4, 0.4, 0.4)
    assert resolve_thresholds(CLASSES, {"Dinophysis": 0.9}) == (0.7, 0.9, 0.7)
    assert resolve_thresholds(CLASSES, {"Dinophysis": 0.9}, default=0.2) == (0.2, 0.9, 0.2)
    with pytest.raises(ValueError, match="from 0 to 1"):
        resolve_thresholds(CLASSES, 1.5)
    with pytest.raises(ValueError, match="from 0 to 1"):
        resolve_thresholds(CLASSES, {"detritus": -0.1})


def test_unknown_classes_in_thresholds_are_warned_about_by_name():
    with pytest.warns(UnknownClassWarning, match="Ditylum, Skeletonema") as caught:
        assert resolve_thresholds(CLASSES, {"Skeletonema": 0.5, "Ditylum": 0.6, "detritus": 0.2}) == (0.7, 0.7, 0.2)
    assert issubclass(caught[0].category, IfcbWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_thresholds(CLASSES, {"detritus": 0.2})


def test_thresholds_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("class,threshold\n# tuned on 2023\nChaetoceros,0.55\n\nDinophysis , 0.9\ndetritus,1\n")
    assert read_thresholds(path) == {"Chaetoceros": 0.55, "Dinophysis": 0.9, "detritus": 1.0}
    assert parse_thresholds(b"Chaetoceros,0\n", source="t.csv") == {"Chaetoceros": 0.0}  # no header
    with pytest.raises(NotFoundError):
        read_thresholds(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("class,threshold\nChaetoceros,1.2\n", 2, "from 0 to 1"),
        ("class,threshold\nChaetoceros,-0.1\n", 2, "from 0 to 1"),
        ("class,threshold\nChaetoceros,0.5\nDinophysis,high\n", 3, "not a number"),
        ("class,threshold\nChaetoceros,0.5,extra\n", 2, "3 fields"),
        ("class,threshold\nChaetoceros,0.5\nChaetoceros,0.6\n", 3, "appears twice"),
        ("class,threshold\n,0.5\n", 2, "without a class name"),
        ("class,threshold\nChaetoceros,nan\n", 2, "from 0 to 1"),
    ],
)
def test_a_bad_thresholds_file_names_file_and_line(text, line, reason):
    with pytest.raises(FormatError, match=reason) as e:
        parse_thresholds(text.encode(), source="thresholds.csv")
    assert (e.value.source, e.value.line) == ("thresholds.csv", line)
