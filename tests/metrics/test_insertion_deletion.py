"""Insertion/deletion on analytic models whose curves are known exactly."""

import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.metrics import area_under_curve, insertion_deletion

THRESHOLDS = np.linspace(0.0, 1.0, 11)


def evidence_pixel_model(row, column):
    """Class 1 when pixel (row, column) is non-zero, else class 0 (one-hot probabilities)."""

    def model_fn(images):
        on = (np.asarray(images)[:, row, column, 0] != 0).astype(np.float32)
        return np.stack([1.0 - on, on], axis=-1)

    return model_fn


def weighted_sum_model(weights):
    """p(class 1) = sum of pixels times ``weights`` (weights sum to 1), p(class 0) = 1 - that."""
    weights = np.asarray(weights, np.float32)

    def model_fn(images):
        score = np.tensordot(np.asarray(images)[..., 0], weights, axes=([1, 2], [0, 1]))
        return np.stack([1.0 - score, score], axis=-1)

    return model_fn


def test_area_under_curve_is_normalised_trapezoid():
    assert area_under_curve([0, 0.5, 1], [1, 1, 1]) == pytest.approx(1.0)
    assert area_under_curve([0, 1, 2], [0, 1, 2]) == pytest.approx(1.0)  # mean height of a line from 0 to 2
    with pytest.raises(TfxaiError):
        area_under_curve([0.0], [1.0])


def test_threshold_mode_curves_are_step_functions_of_the_evidence_attention():
    # the model needs pixel (1, 2); the maps put attention a_i there, so insertion keeps it
    # exactly for thresholds t <= a_i and deletion for t > a_i
    values = np.array([0.55, 0.25, 0.95])
    images = np.ones((3, 4, 4, 1), np.float32)
    labels = np.ones(3, np.int64)
    maps = np.full((3, 4, 4), 0.3, np.float32)
    maps[:, 1, 2] = values
    result = insertion_deletion(evidence_pixel_model(1, 2), images, labels, maps, mode="threshold", thresholds=THRESHOLDS)
    expected_insertion = np.mean([(THRESHOLDS <= v + 1e-9).astype(float) for v in values], axis=0)
    np.testing.assert_allclose(result.insertion, expected_insertion)
    np.testing.assert_allclose(result.deletion, 1.0 - expected_insertion)
    # area of a unit step that falls between grid points a and a + 0.1: a + 0.05
    expected_auc = np.mean([np.floor(v * 10 + 1e-9) / 10 + 0.05 for v in values])
    assert result.insertion_auc == pytest.approx(expected_auc)
    assert result.deletion_auc == pytest.approx(1.0 - expected_auc)
    assert result.score == pytest.approx(2 * expected_auc - 1.0)
    np.testing.assert_allclose(result.x, THRESHOLDS)


def test_threshold_mode_good_map_beats_bad_map():
    images = np.ones((2, 4, 4, 1), np.float32)
    labels = np.ones(2, np.int64)
    good = np.zeros((2, 4, 4), np.float32)
    good[:, 0, 0] = 1.0
    bad = 1.0 - good
    model = evidence_pixel_model(0, 0)
    assert insertion_deletion(model, images, labels, good).score == pytest.approx(1.0)
    # the bad map puts 0 on the evidence: insertion loses it at any t > 0, deletion keeps it for t > 0
    assert insertion_deletion(model, images, labels, bad).score == pytest.approx(-0.9)


def test_rise_mode_curves_are_cumulative_weights_in_attention_order():
    weights = np.array([[0.4, 0.3], [0.2, 0.1]], np.float32)
    images = np.ones((1, 2, 2, 1), np.float32)
    labels = np.array([1])
    model = weighted_sum_model(weights)
    result = insertion_deletion(model, images, labels, weights[None], mode="rise", step=1, baseline=0.0)
    np.testing.assert_allclose(result.x, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(result.insertion, [0, 0.4, 0.7, 0.9, 1.0], atol=1e-6)
    np.testing.assert_allclose(result.deletion, [1.0, 0.6, 0.3, 0.1, 0.0], atol=1e-6)
    assert result.insertion_auc == pytest.approx(0.625)
    assert result.deletion_auc == pytest.approx(0.375)
    # the reversed map orders the pixels the other way round
    reversed_map = (1.0 - weights)[None]
    reverse = insertion_deletion(model, images, labels, reversed_map, mode="rise", step=1, baseline=0.0)
    assert reverse.insertion_auc == pytest.approx(0.375)
    assert reverse.deletion_auc == pytest.approx(0.625)
    # two pixels per step
    coarse = insertion_deletion(model, images, labels, weights[None], mode="rise", step=2, baseline=0.0)
    np.testing.assert_allclose(coarse.insertion, [0, 0.7, 1.0], atol=1e-6)
    np.testing.assert_allclose(coarse.per_image_insertion, [0.6])


def test_rise_mode_default_insertion_canvas_is_the_blurred_image():
    weights = np.full((4, 4), 1.0 / 16, np.float32)
    images = np.ones((1, 4, 4, 1), np.float32) * 0.5
    result = insertion_deletion(weighted_sum_model(weights), images, np.array([1]), weights[None], mode="rise", step=4)
    # blurring a constant image leaves it constant: the insertion curve is flat at 0.5, deletion falls to 0
    np.testing.assert_allclose(result.insertion, 0.5, atol=1e-5)
    assert result.deletion[0] == pytest.approx(0.5) and result.deletion[-1] == pytest.approx(0.0)


def test_maps_are_resized_and_normalised_on_request():
    images = np.ones((1, 8, 8, 1), np.float32)
    small = np.zeros((1, 2, 2), np.float32)
    small[0, 0, 0] = 4.0
    with pytest.raises(TfxaiError, match="normalize"):
        insertion_deletion(evidence_pixel_model(0, 0), images, [1], small)
    result = insertion_deletion(evidence_pixel_model(0, 0), images, [1], small, normalize=True)
    assert result.insertion_auc == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="nope"), "unknown insertion/deletion mode"),
        (dict(thresholds=[0.5]), "at least two increasing"),
        (dict(labels=[1, 1]), "one label and one map"),
        (dict(maps=np.full((1, 4, 4), np.nan)), "NaN"),
        (dict(mode="rise", baseline="noise"), "unknown baseline"),
    ],
)
def test_bad_input_raises_one_line_errors(kwargs, message):
    arguments = dict(model_fn=evidence_pixel_model(0, 0), images=np.ones((1, 4, 4, 1)), labels=[1], maps=np.zeros((1, 4, 4)))
    arguments.update(kwargs)
    with pytest.raises(TfxaiError, match=message) as caught:
        insertion_deletion(**arguments)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("mode", ["threshold", "rise"])
def test_single_sigmoid_output_equals_the_two_column_model(mode):
    # a binary model with one sigmoid output p = P(class 1) gives the same curves as
    # the same model written with two columns [1 - p, p]; labels 0 and 1 both count
    rng = np.random.default_rng(3)
    weights = rng.random((5, 5)).astype(np.float32)
    weights /= weights.sum()
    two_columns = weighted_sum_model(weights)

    def one_sigmoid(images):
        return two_columns(images)[:, 1:]

    images = rng.random((4, 5, 5, 1)).astype(np.float32)
    images[:2] *= 0.5  # class 0 (p < 0.5) for these two, class 1 for the other two
    images[2:] = 0.5 + 0.5 * images[2:]
    labels = np.array([0, 0, 1, 1])
    maps = rng.random((4, 5, 5)).astype(np.float32)
    expected = insertion_deletion(two_columns, images, labels, maps, mode=mode, baseline=0.0)
    for model_fn in (one_sigmoid, lambda images: one_sigmoid(images)[:, 0]):
        result = insertion_deletion(model_fn, images, labels, maps, mode=mode, baseline=0.0)
        np.testing.assert_allclose(result.insertion, expected.insertion, atol=1e-6)
        np.testing.assert_allclose(result.deletion, expected.deletion, atol=1e-6)
    if mode == "threshold":
        # all pixels kept: every image is right (argmax over one column would score 0.5)
        assert result.insertion[0] == pytest.approx(1.0)


def test_model_outputs_that_are_not_class_probabilities_are_rejected():
    images = np.ones((2, 4, 4, 1), np.float32)
    with pytest.raises(TfxaiError, match=r"\(n, K\)"):
        insertion_deletion(lambda x: np.ones((len(x), 2, 2)), images, [0, 1], np.ones((2, 4, 4)) * 0.5)


@pytest.mark.parametrize("mode", ["threshold", "rise"])
def test_labels_outside_the_model_classes_are_rejected(mode):
    images = np.ones((2, 4, 4, 1), np.float32)
    with pytest.raises(TfxaiError, match="model has 2 classes"):
        insertion_deletion(evidence_pixel_model(1, 1), images, [0, 2], np.full((2, 4, 4), 0.5), mode=mode)


@pytest.mark.parametrize("mode", ["threshold", "rise"])
def test_running_sums_over_batches_equal_one_evaluation_of_all_images_and_survive_json(mode):
    import json

    from tfxai.metrics.insertion_deletion import InsertionDeletionSums

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (11, 6, 6, 1)).astype(np.float32)
    maps = rng.uniform(0, 1, (11, 6, 6)).astype(np.float32)
    labels = rng.integers(0, 2, 11)
    model = weighted_sum_model(rng.dirichlet(np.ones(36)).reshape(6, 6))
    whole = insertion_deletion(model, images, labels, maps, mode=mode, step=5)
    sums = InsertionDeletionSums(mode, step=5)
    for start, stop in ((0, 4), (4, 5), (5, 11)):
        sums.update(model, images[start:stop], labels[start:stop], maps[start:stop])
        sums = InsertionDeletionSums(mode, step=5).load_state(json.loads(json.dumps(sums.state())))  # as a resumed run
    result = sums.result()
    np.testing.assert_array_equal(result.x, whole.x)
    np.testing.assert_array_equal(result.insertion, whole.insertion)
    np.testing.assert_array_equal(result.deletion, whole.deletion)
    assert result.insertion_auc == pytest.approx(whole.insertion_auc, rel=1e-12)
    assert result.deletion_auc == pytest.approx(whole.deletion_auc, rel=1e-12)
    assert 0 < whole.insertion_auc < 1 and whole.insertion[1] not in (0.0, 1.0)
    with pytest.raises(TfxaiError, match="no images"):
        InsertionDeletionSums(mode).result()
