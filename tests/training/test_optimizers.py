"""The optimizer and accuracy metrics every method compiles with (tfxai.training.optimizers)."""

import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import keras

from tfxai.errors import TfxaiError
from tfxai.training.optimizers import accuracy_metrics, make_optimizer


def test_make_optimizer_builds_sgd_with_momentum_or_adam_and_refuses_others():
    sgd = make_optimizer("sgd", 0.01, momentum=0.8)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == pytest.approx(0.8)
    assert float(sgd.learning_rate) == pytest.approx(0.01)
    adam = make_optimizer("adam", 0.002)
    assert isinstance(adam, keras.optimizers.Adam) and float(adam.learning_rate) == pytest.approx(0.002)
    with pytest.raises(TfxaiError, match="unknown optimizer 'rmsprop': choose sgd or adam"):
        make_optimizer("rmsprop", 0.01)


def test_top5_only_beyond_five_classes():
    assert [m.name for m in accuracy_metrics(5)] == ["accuracy"]
    assert [m.name for m in accuracy_metrics(6)] == ["accuracy", "top5"]


def test_method_packages_take_them_from_the_engine():
    from tfxai.attention import abn_training
    from tfxai.video import training as video_training
    import inspect

    assert abn_training.make_optimizer is make_optimizer
    assert "tfxai.attention" not in inspect.getsource(video_training)
