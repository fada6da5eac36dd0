"""tfxai: visual explanations and attention-guided learning for TensorFlow/Keras.

Importing tfxai before TensorFlow lets it apply the oneDNN safety setting on
AMD CPUs (see :mod:`tfxai._runtime`).
"""

from tfxai import _runtime

_runtime.quiet_tensorflow_logs()
ONEDNN_SETTING = _runtime.configure_onednn()

from tfxai.errors import TfxaiError  # noqa: E402
from tfxai import _compat, _serializables  # noqa: E402

_compat.install()  # old import paths of moved modules, with a DeprecationWarning
_serializables.register_when_keras_is_imported()  # after the oneDNN setting: it may import TensorFlow

__version__ = "0.1.0"
__all__ = ["TfxaiError", "__version__", "ONEDNN_SETTING"]
