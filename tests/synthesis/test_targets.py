import json

import numpy as np
import pytest

import tfxai  # noqa: F401
from tfxai.errors import TfxaiError
from tfxai.synthesis import format_distribution, load_class_names, parse_target

NAMES = ["cat", "dog", "frog"]


def test_parse_target():
    np.testing.assert_allclose(parse_target("cat:0.9,dog:0.1", NAMES), [0.9, 0.1, 0.0])
    np.testing.assert_allclose(parse_target(" frog : 1 ", NAMES), [0, 0, 1])
    np.testing.assert_allclose(parse_target("0:0.5,2:0.5", NAMES), [0.5, 0, 0.5])


@pytest.mark.parametrize(
    "text, message",
    [
        ("horse:1.0", "unknown class 'horse'"),
        ("cat:0.9,dog:0.2", "sum to 1.1"),
        ("cat=0.9", "bad target entry"),
        ("cat:abc,dog:0.1", "bad probability"),
        ("cat:0.5,cat:0.5", "appears twice"),
        ("cat:1.5,dog:-0.5", "outside \\[0, 1\\]"),
        ("", "empty target"),
    ],
)
def test_bad_targets_are_one_line_errors(text, message):
    with pytest.raises(TfxaiError, match=message) as error:
        parse_target(text, NAMES)
    assert "\n" not in str(error.value)


def test_class_names_from_option_file_or_next_to_model(tmp_path):
    assert load_class_names("a,b", num_classes=2) == ["a", "b"]
    path = tmp_path / "names.json"
    path.write_text(json.dumps(NAMES))
    assert load_class_names(str(path), num_classes=3) == NAMES
    (tmp_path / "class_names.json").write_text(json.dumps(NAMES))
    assert load_class_names(None, str(tmp_path / "model.keras"), 3) == NAMES
    assert load_class_names(None, str(tmp_path / "sub" / "m.keras"), 2) == ["0", "1"]
    with pytest.raises(TfxaiError, match="2 outputs"):
        load_class_names("a,b,c", num_classes=2)


def test_format_distribution():
    assert format_distribution([0.1, 0.9, 0.0], NAMES) == "dog:0.9000;cat:0.1000"
    assert format_distribution([0.2, 0.5, 0.3], NAMES, top=2, digits=1) == "dog:0.5;frog:0.3"
