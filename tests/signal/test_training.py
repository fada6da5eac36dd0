"""The thesis preset carries the 1D-SAN thesis's training values, and docs/signal.md's table says what it holds.

These tests read the preset; none of them trains for the thesis's 20,000 epochs.
"""

import os
import re

import keras
import pytest

from tfxai.signal import SignalTrainingConfig, build_model, compile_thesis

# What the thesis states (../shared/papers/000_*.txt, 1D-SAN: sections 3.4, 4.1, 4.2).
THESIS = {
    "epochs": 20000,  # "Epoch 数を 20000"
    "batch_size": 128,  # "BatchSize を 128"
    "learning_rate": 0.001,  # "学習率を 0.001"
    "window": 64,  # "サンプリング幅を 64"
    "step": 10,  # "10時刻ずつサンプリング区間をずらしながら"
    "test_fraction": 0.4,  # "6:4で学習および評価データに分割"
    "model": "san1d",
}
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "signal.md")


def test_thesis_preset_carries_the_thesis_values():
    config = SignalTrainingConfig.from_preset("thesis")
    assert {name: getattr(config, name) for name in THESIS} == THESIS
    # the class docstring says its defaults are the thesis's preset
    assert SignalTrainingConfig() == config


def test_presets_refuse_unknown_names_and_options_in_one_line():
    from tfxai.errors import TfxaiError

    with pytest.raises(TfxaiError, match=r"unknown preset 'paper': choose one of thesis, small"):
        SignalTrainingConfig.from_preset("paper")
    with pytest.raises(TfxaiError, match=r"unknown option\(s\) \['windw'\] for SignalTrainingConfig"):
        SignalTrainingConfig.from_preset("small", windw=32)
    assert SignalTrainingConfig.from_preset("small", window=32, epochs=None).window == 32  # None: the preset's value


def test_thesis_preset_compiles_momentum_sgd_with_cross_entropy():
    config = SignalTrainingConfig.from_preset("thesis")
    model = build_model(config.model, num_classes=3, window_length=16, channels=2, filters=4)
    compile_thesis(model, config.learning_rate, config.momentum, jit_compile=False)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    assert 0 < model.optimizer.momentum < 1
    assert model.loss == "sparse_categorical_crossentropy"


def _preset_table():
    """``{field: preset cell}`` for the rows of docs/signal.md's preset table that name a config field."""
    with open(DOCS, encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("| setting | document value | preset value | why it differs |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        field = re.fullmatch(r"`(\w+)`", cells[0])
        if field:
            rows[field.group(1)] = cells[2]
    return rows


def test_docs_preset_table_matches_the_preset():
    rows = _preset_table()
    config = SignalTrainingConfig.from_preset("thesis")
    assert set(THESIS) | {"momentum", "train_step", "filters", "jit_compile"} <= set(rows)
    for field, cell in rows.items():
        value = getattr(config, field)
        if isinstance(value, bool):
            assert cell.startswith("on" if value else "off"), (field, cell)
        elif isinstance(value, str):
            assert cell.startswith(f"`{value}`"), (field, cell)
        else:
            number = re.match(r"[0-9.]+", cell)
            assert number and float(number.group()) == pytest.approx(value), (field, cell)
