"""Register tfxai's Keras classes as soon as Keras is imported, so ``import tfxai`` alone lets
``keras.saving.load_model`` read every tfxai model (ABN, GAIN, SAN1D, their layers and losses).

Importing those modules at ``import tfxai`` would import TensorFlow before tfxai has applied
its oneDNN setting (:mod:`tfxai._runtime`) and make ``tfxai --help`` slow. Instead a
meta-path finder waits for ``keras``: once Keras has finished importing, the registering
modules are imported (they only need Keras and TensorFlow, which then exist). If Keras
is already imported, they are imported at once.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# Every module with a @keras.saving.register_keras_serializable class (test_product checks the list is complete).
REGISTERING_MODULES = (
    "tfxai.classify.backbones",
    "tfxai.attention.abn",
    "tfxai.attention.abn_layers",
    "tfxai.attention.gain",
    "tfxai.attention.losses",
    "tfxai.signal.layers",
    "tfxai.signal.models",
    "tfxai.signal.preprocessing",
    "tfxai.synthesis.generator",
    "tfxai.synthesis.image_weights",
    "tfxai.synthesis.losses",
    "tfxai.synthesis.low_pass",
    "tfxai.synthesis.model",
    "tfxai.annotate.detector",
    "tfxai.gan.collaborative.graph",
    "tfxai.gan.collaborative.model",
    "tfxai.video.resnet3d",
    "tfxai.video.stabn",
    "tfxai.gan.stargan.layers",
    "tfxai.gan.stargan.networks",
    "tfxai.gan.stargan.model",
    "tfxai.gan.stargan.tta",
    "tfxai.gan.stargan.classifiers",
)


def register_all():
    """Make strided pointwise convolutions safe (:mod:`tfxai._safe_conv`), then import every registering module.

    A registering module that cannot be imported (a missing optional package) is skipped.
    """
    from tfxai import _safe_conv

    _safe_conv.install()
    for name in REGISTERING_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps Keras's own loader so :func:`register_all` runs after Keras is imported."""

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        # TensorFlow asks for keras's spec without importing it, so stay in place until keras is loaded
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            register_all()

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_is_imported():
    """Register now if Keras is imported, else as soon as it is."""
    if "keras" in sys.modules:
        register_all()
    elif not any(isinstance(finder, _AfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())
