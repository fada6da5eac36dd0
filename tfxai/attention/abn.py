"""Attention Branch Network (ABN) with the Attention Mining Branch, PC loss and COT.

Fukui et al., "Attention Branch Network: Learning of Attention Mechanism for
Visual Explanation", CVPR 2019; Iwayoshi et al., "Optimising attention maps
with an Attention Mining Branch" (and "Complement Objective Mining Branch for
Optimizing Attention Map", VISAPP 2023); Mitsuhara et al., "Embedding Human
Knowledge into Deep Neural Network via Attention Map", VISAPP 2021.

Structure (``images`` in raw pixels [0, 255])::

    images -> preprocessing -> feature extractor (backbone up to split_layer) -> F
    F -> attention branch -> attention logits (L_att) and attention map M in [0, 1]
    attention mechanism: (1 + M) * F (ABN) or M * F (mining variant)
    -> perception branch (rest of the backbone, GAP, Dense) -> logits (L_per)

    mining branch (use_mining): F* = F - T(M) * F, T(M) = sigmoid(omega (M - sigma)) (mask "soft")
    or step(M - sigma) with the soft mask's gradient (mask "hard", straight-through),
    -> the *same* perception branch (shared weights) -> S_g(F*) (L_am)
    use_pc: prototype conformity loss on GAP(perception) and GAP(attended F)
            (pc_reduction "mean" or the paper's "sum"; pc_normalize: on unit vectors, bounded)
    use_cot: a second update per step minimising the complement-entropy gap
             of the mining branch (L_am is then not used, as in the paper);
             cot_variant "paper" (eq. 4 with y_g = 0) or "chen" (renormalised)
    map_weight > 0: the shared map loss between given (human-edited) maps and M
             (inputs as the map-supervision dict ``{"images", "attention_maps", "has_attention_map"}``)
"""

import keras
import tensorflow as tf

from tfxai.attention import losses as losses_lib
from tfxai.attention.abn_layers import MECHANISMS, AttentionBranch, AttentionMechanism, PrototypeConformityPair
from tfxai.attention.base import MAIN, AttentionModel, map_loss, unpack_inputs
from tfxai.attention.masking import MASKS, mask_out
from tfxai.classify.backbones import build_backbone, get_backbone, stem
from tfxai.errors import TfxaiError
from tfxai.explain import targets as targets_lib
from tfxai.explain.cam import upsample
from tfxai.training.precision import float32

__all__ = ["ABN", "AttentionBranch", "AttentionMechanism", "COMPLEMENT", "MECHANISMS", "PrototypeConformityPair"]

COMPLEMENT = "complement"


@keras.saving.register_keras_serializable(package="tfxai")
class ABN(AttentionModel):
    """Attention Branch Network, optionally with the Attention Mining Branch, PC loss and COT.

    Fukui et al., "Attention Branch Network: Learning of Attention Mechanism for
    Visual Explanation", CVPR 2019; Iwayoshi et al., "Optimising attention maps
    with an Attention Mining Branch"; fine-tuning with human-edited maps after
    Mitsuhara et al., VISAPP 2021.

    ``model(images)`` returns the perception branch's class probabilities;
    :meth:`forward` returns every intermediate (attention map, logits of both
    branches, features); :meth:`explain` returns image-sized attention maps
    and probabilities (what :func:`tfxai.io.export.export_saved_model` serves).

    Parameters
    ----------
    backbone : str
        A key of :data:`tfxai.classify.backbones.BACKBONES`; it is split at its
        ``split_layer`` into the feature extractor and the perception branch.
    num_classes : int
    input_shape : tuple (H, W, C)
        Raw pixels in [0, 255].
    weights : {None, "imagenet"} or str
        Initial backbone weights. Not part of the config: a saved model carries
        its trained weights.
    attention_filters : int, optional
        Width of the attention branch's conv blocks (default: the feature map's channels).
    attention_convs : int
        Number of conv blocks in the attention branch.
    mechanism : {"residual", "multiply"}, optional
        Default ``"residual"`` ((1 + M) F) for ABN, ``"multiply"`` (M F) with the mining branch.
    use_mining, use_pc, use_cot : bool
        Attention Mining Branch, Prototype Conformity loss, Complement Objective Training.
    sigma, omega : float
        Threshold and sharpness of the soft mask T(M) = sigmoid(omega (M - sigma))
        (paper: sigma = 0.78 on CUB-200-2010, 0.40 on Stanford Dogs);
        ``tf.Variable`` hyperparameters a callback may schedule.
    mask : {"soft", "hard"}
        T(M) of the mining branch: ``"soft"`` sigmoid(omega (M - sigma)), or
        ``"hard"`` the paper's binarisation step(M - sigma) (exactly 0/1
        forward, the soft mask's gradient backward; see
        :func:`tfxai.attention.masking.hard_mask`).
    pc_reduction : {"mean", "sum"}
        L_PC averaged over the global batch (Mustafa et al.'s code) or summed
        over it (the paper's eq. 3).
    pc_normalize : bool
        L_PC on L2-normalised features and centroids (default): bounded in
        [-8, 4] per sample for the two feature vectors. ``False`` is the raw
        formula, which falls without end during training.
    cot_variant : {"paper", "chen"}
        Complement entropy of the mining branch: ``"paper"`` (Iwayoshi et al.'s
        eq. 4 with y_g = 0: the unrenormalised wrong-class probabilities, so
        the COT update also drives the true class to 0, doing L_am's job) or
        ``"chen"`` (Chen et al.'s renormalised COT, zero gradient on the true
        class). See :func:`tfxai.attention.losses.complement_entropy`.
    attention_weight, perception_weight, mining_weight, pc_weight, cot_weight, map_weight : float
        Loss weights (paper: 1, 1, 1e-4, 1, 1; the map term, for human-edited
        maps, is off at 0).
        L_am is summed over the batch as in the paper; the others are averaged
        (L_PC too unless ``pc_reduction="sum"``).
    pretrain_steps : int
        Optimizer steps of plain ABN training (L_att + L_per) before the mining,
        PC and COT terms switch on (the paper's step 1).
    dropout : float
        Dropout before the perception classifier.
    backbone_filters : tuple of int, optional
        Block widths of the ``small_cnn`` backbone (default (32, 64, 128));
        only for ``small_cnn``.
    """

    updates = (MAIN,)
    app = "tfxai train abn"

    def __init__(
        self,
        backbone="small_cnn",
        num_classes=10,
        input_shape=(32, 32, 3),
        weights=None,
        attention_filters=None,
        attention_convs=2,
        mechanism=None,
        use_mining=False,
        use_pc=False,
        use_cot=False,
        pc_reduction="mean",
        pc_normalize=True,
        cot_variant="paper",
        sigma=0.5,
        omega=10.0,
        mask="soft",
        attention_weight=1.0,
        perception_weight=1.0,
        mining_weight=1e-4,
        pc_weight=1.0,
        cot_weight=1.0,
        map_weight=0.0,
        pretrain_steps=0,
        dropout=0.0,
        backbone_filters=None,
        name="abn",
        **kwargs,
    ):
        if use_cot and not use_mining:
            raise TfxaiError("COT works on the attention mining branch's output: turn on use_mining (--mining) with use_cot")
        if num_classes < 2:
            raise TfxaiError(f"ABN needs at least 2 classes, got {num_classes}")
        if use_cot and num_classes < 3:
            raise TfxaiError(f"COT needs at least 3 classes (2 complement classes), got {num_classes}")
        if pc_reduction not in ("mean", "sum"):
            raise TfxaiError(f"unknown pc_reduction {pc_reduction!r}: choose 'mean' or 'sum' (the paper's)")
        if mask not in MASKS:
            raise TfxaiError(f"unknown mask {mask!r}: choose one of {list(MASKS)}")
        if cot_variant not in losses_lib.COT_VARIANTS:
            raise TfxaiError(f"unknown cot_variant {cot_variant!r}: choose one of {list(losses_lib.COT_VARIANTS)}")
        if mechanism is None:
            mechanism = "multiply" if use_mining else "residual"
        super().__init__(name=name, **kwargs)
        # The COT step is a second gradient update per training step.
        self.updates = (MAIN, COMPLEMENT) if use_cot else (MAIN,)
        spec = get_backbone(backbone)
        input_shape = tuple(int(v) for v in input_shape)
        if len(input_shape) != 3:
            raise TfxaiError(f"input_shape must be (height, width, channels), got {input_shape}")
        self.backbone = spec.name
        self.num_classes = int(num_classes)
        self.image_shape = input_shape
        self.attention_convs = int(attention_convs)
        self.mechanism = mechanism
        self.use_mining = bool(use_mining)
        self.use_pc = bool(use_pc)
        self.use_cot = bool(use_cot)
        self.cot_variant = cot_variant
        self.pc_reduction = pc_reduction
        self.pc_normalize = bool(pc_normalize)
        self.mask = mask
        self.pretrain_steps = int(pretrain_steps)
        self.dropout = float(dropout)
        self.backbone_filters = tuple(int(f) for f in backbone_filters) if backbone_filters else None

        # === Layers ===
        self.feature_extractor, self.perception_trunk = _split_backbone(spec, input_shape, weights, self.backbone_filters)
        feature_shape = tuple(self.feature_extractor.outputs[0].shape)
        self.attention_filters = int(attention_filters or feature_shape[-1])
        self.attention_branch = AttentionBranch(num_classes, self.attention_filters, self.attention_convs, name="attention_branch")
        self.attention_mechanism = AttentionMechanism(mechanism, name="attention_mechanism")
        self.perception_pool = keras.layers.GlobalAveragePooling2D(name="perception_pool")
        self.perception_dropout = keras.layers.Dropout(self.dropout, name="perception_dropout")
        self.perception_head = keras.layers.Dense(num_classes, name="perception_logits")
        self.attention_pool = keras.layers.GlobalAveragePooling2D(name="attention_pool")
        if self.use_pc:
            self.perception_prototypes = PrototypeConformityPair(num_classes, normalize=self.pc_normalize, name="prototypes")

        # === Hyperparameters (tf.Variables: assign from callbacks to schedule them) ===
        self.sigma = self.add_hyperparameter("sigma", sigma)
        self.omega = self.add_hyperparameter("omega", omega)

        # === Loss terms ===
        start = self.pretrain_steps
        self.add_loss_term("attention", attention_weight)
        self.add_loss_term("perception", perception_weight)
        if self.use_mining and not self.use_cot:
            self.add_loss_term("mining", mining_weight, reduction="sum", start_step=start)
        if self.use_pc:
            self.add_loss_term("pc", pc_weight, reduction=pc_reduction, start_step=start)
        if self.use_cot:
            self.add_loss_term("cot", cot_weight, update=COMPLEMENT, start_step=start)
        if map_weight:
            self.add_loss_term("map", map_weight)

        self.build((None,) + input_shape)

    # === Building ===

    def build(self, input_shape):
        if isinstance(input_shape, dict):
            input_shape = input_shape["images"]
        feature_shape = tuple(self.feature_extractor.outputs[0].shape)
        self.attention_branch.build(feature_shape)
        self.perception_head.build((None, int(self.perception_trunk.outputs[0].shape[-1])))
        if self.use_pc:
            self.perception_prototypes.build(
                (None, int(self.perception_trunk.outputs[0].shape[-1])), (None, int(feature_shape[-1]))
            )

    # === Forward passes ===

    def features_and_attention(self, images, training=None):
        """F (the feature extractor's output), attention-branch logits and the attention map M (batch, h, w, 1)."""
        features = self.feature_extractor(tf.cast(images, tf.float32), training=training)
        attention_logits, attention = self.attention_branch(features, training=training)
        return features, attention_logits, attention

    def perceive(self, features, training=None):
        """The perception branch (shared by the mining branch): (pooled features, logits)."""
        x = self.perception_trunk(features, training=training)
        pooled = self.perception_pool(x)
        logits = self.perception_head(self.perception_dropout(pooled, training=training))
        return pooled, logits

    def masked_features(self, features, attention):
        """F* = F - T(M) * F, with T the shared soft or hard mask of :mod:`tfxai.attention.masking`."""
        return mask_out(*float32((features, attention)), self.sigma, self.omega, kind=self.mask)

    def forward(self, images, training=None):
        """Every output of one pass, as a dict.

        Keys: ``probabilities``, ``logits`` (perception), ``attention_logits``,
        ``attention_probabilities``, ``attention`` (M, (batch, h, w, 1)),
        ``features`` (F), ``attended`` (g(F)), ``perception_features`` and
        ``attention_features`` (pooled, for the PC loss).
        """
        features, attention_logits, attention = self.features_and_attention(images, training)
        attended = self.attention_mechanism(features, attention)
        pooled, logits = self.perceive(attended, training)
        logits, attention_logits, attention = float32((logits, attention_logits, attention))  # heads and losses in float32 (mixed precision)
        return {
            "probabilities": tf.nn.softmax(logits),
            "logits": logits,
            "attention_logits": attention_logits,
            "attention_probabilities": tf.nn.softmax(attention_logits),
            "attention": attention,
            "features": features,
            "attended": attended,
            "perception_features": float32(pooled),
            "attention_features": float32(self.attention_pool(attended)),
        }

    def mining(self, features, attention, training=None):
        """Logits of the mining branch on F* (the perception branch's weights)."""
        return float32(self.perceive(self.masked_features(features, attention), training)[1])

    def call(self, inputs, training=None):
        images, _ = unpack_inputs(inputs)
        return self.forward(images, training)["probabilities"]

    def explain(self, images):
        """``(attention maps (batch, H, W) in [0, 1], probabilities (batch, K))``: M resized bilinearly to the images.

        The explainer protocol (what exports, reports and evaluation use).
        """
        images = tf.cast(tf.convert_to_tensor(images), tf.float32)
        outputs = self.forward(images, training=False)
        size = images.shape[1:3] if images.shape[1:3].is_fully_defined() else tf.shape(images)[1:3]
        maps = upsample(outputs["attention"][..., 0], size)  # static sizes: matrix products (fast in LiteRT)
        return tf.clip_by_value(maps, 0.0, 1.0), outputs["probabilities"]

    # === Losses (the AttentionModel hook) ===

    def loss_terms(self, x, y, update=MAIN, training=False):
        images, extras = unpack_inputs(x)
        labels = targets_lib.class_ids_from_labels(y, self.num_classes)
        if update == COMPLEMENT:
            features, _, attention = self.features_and_attention(images, training)
            mining_logits = self.mining(features, attention, training)
            terms = {"cot": losses_lib.complement_entropy_gap(labels, logits=mining_logits, reduction="none", variant=self.cot_variant)}
            return terms, tf.nn.softmax(mining_logits)
        out = self.forward(images, training)
        terms = {
            "attention": keras.losses.sparse_categorical_crossentropy(labels, out["attention_logits"], from_logits=True),
            "perception": keras.losses.sparse_categorical_crossentropy(labels, out["logits"], from_logits=True),
        }
        if "mining" in self._terms:
            mining_logits = self.mining(out["features"], out["attention"], training)
            terms["mining"] = losses_lib.attention_mining_loss(labels, tf.nn.softmax(mining_logits), reduction="none")
        if self.use_pc:
            terms["pc"] = self.perception_prototypes(out["perception_features"], out["attention_features"], labels)
        if "map" in self._terms:
            terms["map"] = map_loss(extras, out["attention"])
        return terms, out["probabilities"]

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.pop("weights", None)  # initial weights only: a saved model carries its trained weights
        config.update(
            {
                "backbone": self.backbone,
                "num_classes": self.num_classes,
                "input_shape": list(self.image_shape),
                "attention_filters": self.attention_filters,
                "attention_convs": self.attention_convs,
                "mechanism": self.mechanism,
                "use_mining": self.use_mining,
                "use_pc": self.use_pc,
                "use_cot": self.use_cot,
                "cot_variant": self.cot_variant,
                "pc_reduction": self.pc_reduction,
                "pc_normalize": self.pc_normalize,
                "mask": self.mask,
                "pretrain_steps": self.pretrain_steps,
                "dropout": self.dropout,
                "backbone_filters": list(self.backbone_filters) if self.backbone_filters else None,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _split_backbone(spec, input_shape, weights, filters=None):
    """(feature extractor: images -> F, perception trunk: F -> last feature map) sharing the backbone's layers."""
    height, width, _ = input_shape
    inputs, x, base_channels = stem(spec, input_shape)
    if filters and len(filters) < 3:
        raise TfxaiError(f"small_cnn splits after its second block, so it needs at least 3 block widths, got {list(filters)}")
    base = build_backbone(spec.name, (height, width, base_channels), weights, filters=filters)
    try:
        split = base.get_layer(spec.split_layer).output
    except ValueError as error:
        raise TfxaiError(f"backbone {spec.name} has no layer {spec.split_layer!r} to split at: fix its split_layer") from error
    if min(split.shape[1:3]) < 2:
        raise TfxaiError(
            f"{spec.name} at {height}x{width} gives a {split.shape[1]}x{split.shape[2]} feature map at {spec.split_layer}: "
            "use larger images for an attention map"
        )
    early = keras.Model(base.inputs, split, name="early_stages")
    feature_extractor = keras.Model(inputs, early(x), name="feature_extractor")
    trunk = keras.Model(split, base.outputs, name="perception_trunk")
    return feature_extractor, trunk

