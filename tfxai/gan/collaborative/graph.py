"""The knowledge-transfer graph of collaborative GANs: which edge carries which gate.

Nodes are the discriminator ``D`` and the generators ``G_1 .. G_k`` (indices
0 .. k-1 in code). Edges point the way gradients flow: ``D -> G_i`` carries the
adversarial loss of G_i, ``G_t -> G_s`` the attention transfer from G_t to
G_s. A generator's loss is the sum of its gated incoming edges. Source:
Tsukahara et al., "Collaborative learning of generative adversarial
networks" (VISAPP 2021), Fig. 2.
"""

import itertools
import json

import keras

from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.gates import check_gate

__all__ = ["DISCRIMINATOR", "KnowledgeTransferGraph", "graph_edges"]

#: The discriminator's node name; generators are the integers 0 .. k-1.
DISCRIMINATOR = "D"


def graph_edges(num_generators):
    """Every edge of a k-generator graph, in a fixed order: D -> G_i, then G_t -> G_s (t != s)."""
    adversarial = [(DISCRIMINATOR, i) for i in range(num_generators)]
    transfer = [(t, s) for t, s in itertools.permutations(range(num_generators), 2)]
    return adversarial + transfer


def edge_name(edge):
    """``"D->G1"``, ``"G2->G1"``: an edge as users read it (generators numbered from 1)."""
    source, target = edge
    node = lambda n: n if n == DISCRIMINATOR else f"G{n + 1}"  # noqa: E731
    return f"{node(source)}->{node(target)}"


def parse_edge(name):
    """The inverse of :func:`edge_name`."""
    try:
        source, target = name.split("->")
        node = lambda n: n if n == DISCRIMINATOR else int(n[1:]) - 1  # noqa: E731
        return node(source.strip()), node(target.strip())
    except (ValueError, IndexError):
        raise TfxaiError(f"bad edge {name!r}: write edges as 'D->G1' or 'G2->G1'") from None


@keras.saving.register_keras_serializable(package="tfxai")
class KnowledgeTransferGraph:
    """Gates of every edge of a k-generator knowledge-transfer graph.

    Args:
        num_generators: k, the number of generators.
        gates: ``{"D->G1": "through", "G2->G1": "positive_linear", ...}``;
            edges not named are ``default``.
        default: the gate of edges not named in ``gates``.
    """

    def __init__(self, num_generators, gates=None, default="through"):
        if int(num_generators) < 1:
            raise TfxaiError(f"a knowledge-transfer graph needs at least 1 generator, got {num_generators}")
        self.num_generators = int(num_generators)
        self.default = check_gate(default)
        known = {edge_name(edge) for edge in graph_edges(self.num_generators)}
        gates = dict(gates or {})
        for name, gate in gates.items():
            check_gate(gate)
            if edge_name(parse_edge(name)) not in known:
                raise TfxaiError(f"edge {name!r} is not in a {self.num_generators}-generator graph: use one of {', '.join(sorted(known))}")
        self.gates = {edge_name(edge): gates.get(edge_name(edge), self.default) for edge in graph_edges(self.num_generators)}

    # === Named graphs ===

    @classmethod
    def mad_gan(cls, num_generators):
        """MAD-GAN: every generator learns only from D (all generator-generator edges cut)."""
        gates = {edge_name(edge): "cutoff" for edge in graph_edges(num_generators) if edge[0] != DISCRIMINATOR}
        return cls(num_generators, gates)

    @classmethod
    def from_choices(cls, num_generators, choices):
        """A graph from one gate per edge, in :func:`graph_edges` order (as the gate search samples them)."""
        edges = graph_edges(num_generators)
        if len(choices) != len(edges):
            raise TfxaiError(f"{len(edges)} gates needed for {num_generators} generators, got {len(choices)}")
        return cls(num_generators, {edge_name(edge): gate for edge, gate in zip(edges, choices)})

    # === Queries ===

    def gate(self, source, target):
        """The gate of edge ``source -> target``."""
        return self.gates[edge_name((source, target))]

    def incoming(self, target):
        """``[(source, gate), ...]`` of the edges into generator ``target``."""
        return [(edge[0], self.gates[edge_name(edge)]) for edge in graph_edges(self.num_generators) if edge[1] == target]

    def uses_transfer(self):
        """Whether any generator-generator edge is open (attention features are needed)."""
        return any(gate != "cutoff" for name, gate in self.gates.items() if not name.startswith(DISCRIMINATOR))

    # === Config ===

    def get_config(self):
        return {"num_generators": self.num_generators, "gates": dict(self.gates), "default": self.default}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def to_json(self):
        return json.dumps(self.get_config(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text):
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise TfxaiError(f"graph file is not JSON ({error.msg} at line {error.lineno}): give a file written by 'tfxai search gates'") from None
        if not isinstance(config, dict) or "num_generators" not in config:
            raise TfxaiError("graph JSON needs 'num_generators' and 'gates': give a file written by 'tfxai search gates'")
        return cls.from_config(config)

    def __eq__(self, other):
        return isinstance(other, KnowledgeTransferGraph) and self.get_config() == other.get_config()

    def __repr__(self):
        return f"KnowledgeTransferGraph({self.num_generators}, {self.gates})"

