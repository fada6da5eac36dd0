"""Gate schedules and the knowledge-transfer graph."""

import numpy as np
import pytest
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.gates import apply_gate, gate_weight, training_progress
from tfxai.gan.collaborative.graph import KnowledgeTransferGraph, graph_edges


@pytest.mark.parametrize("step, expected", [
    (0, {"through": 1.0, "cutoff": 0.0, "positive_linear": 0.0, "negative_linear": 1.0}),
    (50, {"through": 1.0, "cutoff": 0.0, "positive_linear": 0.5, "negative_linear": 0.5}),
    (100, {"through": 1.0, "cutoff": 0.0, "positive_linear": 1.0, "negative_linear": 0.0}),
    (250, {"through": 1.0, "cutoff": 0.0, "positive_linear": 1.0, "negative_linear": 0.0}),
])
def test_gate_weights_at_start_middle_and_end_of_training(step, expected):
    progress = training_progress(tf.constant(step, tf.int64), total_steps=100)
    for gate, weight in expected.items():
        assert float(gate_weight(gate, progress)) == pytest.approx(weight)


def test_gate_schedule_follows_a_variable_inside_a_traced_function():
    iterations = tf.Variable(0, dtype=tf.int64)
    losses = tf.constant([2.0, 4.0])

    @tf.function
    def gated():
        return apply_gate("positive_linear", losses, training_progress(iterations, 4))

    seen = []
    for step in range(5):
        iterations.assign(step)
        seen.append(gated().numpy())
    np.testing.assert_allclose(seen, [[0, 0], [0.5, 1], [1, 2], [1.5, 3], [2, 4]])


def test_graph_edges_named_graphs_and_json_round_trip():
    assert len(graph_edges(3)) == 9  # 3 D->G edges and 6 G->G edges: 4^9 graphs
    mad = KnowledgeTransferGraph.mad_gan(3)
    assert not mad.uses_transfer() and mad.gate("D", 0) == "through" and mad.gate(1, 0) == "cutoff"
    graph = KnowledgeTransferGraph(3, {"G2->G1": "positive_linear"})
    assert graph.incoming(0) == [("D", "through"), (1, "positive_linear"), (2, "through")]
    assert KnowledgeTransferGraph.from_json(graph.to_json()) == graph


@pytest.mark.parametrize("gates, message", [
    ({"G1->G1": "through"}, "not in a 3-generator graph"),
    ({"G4->G1": "through"}, "not in a 3-generator graph"),
    ({"D->G1": "open"}, "unknown gate"),
    ({"G1 to G2": "through"}, "bad edge"),
])
def test_bad_graphs_are_one_line_errors(gates, message):
    with pytest.raises(TfxaiError, match=message):
        KnowledgeTransferGraph(3, gates)


def test_a_cut_edge_passes_no_loss_and_no_gradient():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(apply_gate("cutoff", tf.square(x), tf.constant(0.5)))
    assert float(loss) == 0.0 and tape.gradient(loss, x) is None
