"""Old import paths of modules that moved into packages; they keep working for one release, with a
``DeprecationWarning`` naming the new path.

``import tfxai.resume`` (or ``from tfxai.resume import fit_resumable``) gives a module that reads
every attribute from :mod:`tfxai.training.resume`. A meta-path finder serves the old names, so no
file is left at the old place.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

#: old module path -> new module path (moved in 0.2; the old paths go in 0.3).
MOVED = {
    "tfxai.augmentation": "tfxai.training.augmentation",
    "tfxai.batchnorm": "tfxai.training.batchnorm",
    "tfxai.determinism": "tfxai.training.determinism",
    "tfxai.distribute": "tfxai.training.distribute",
    "tfxai.precision": "tfxai.training.precision",
    "tfxai.presets": "tfxai.training.presets",
    "tfxai.resume": "tfxai.training.resume",
    "tfxai.export": "tfxai.io.export",
    "tfxai.backbones": "tfxai.classify.backbones",
    "tfxai.classifier": "tfxai.classify.classifier",
    "tfxai.demo": "tfxai.classify.demo",
    "tfxai.annotate.video": "tfxai.data.video",
    "tfxai.gan.ema": "tfxai.gan.stargan.ema",
    "tfxai.gan.stargan_layers": "tfxai.gan.stargan.layers",
    "tfxai.gan.stargan_losses": "tfxai.gan.stargan.losses",
    "tfxai.gan.stargan_networks": "tfxai.gan.stargan.networks",
    "tfxai.gan.stargan_tta": "tfxai.gan.stargan.tta",
    "tfxai.gan.stargan_data": "tfxai.gan.stargan.data",
    "tfxai.gan.stargan_export": "tfxai.gan.stargan.export",
    "tfxai.gan.stargan_figures": "tfxai.gan.stargan.figures",
    "tfxai.gan.stargan_runs": "tfxai.gan.stargan.training",
    "tfxai.gan.collaborative_training": "tfxai.gan.collaborative.training",
    "tfxai.gan.dcgan": "tfxai.gan.collaborative.dcgan",
    "tfxai.gan.gates": "tfxai.gan.collaborative.gates",
    "tfxai.gan.graph": "tfxai.gan.collaborative.graph",
    "tfxai.gan.graph_search": "tfxai.gan.collaborative.search",
    "tfxai.gan.search_run": "tfxai.gan.collaborative.search_training",
    "tfxai.synthesis.runs": "tfxai.synthesis.training",
    "tfxai.synthesis.imagefiles": "tfxai.data.float_images",
}


class _MovedModule(types.ModuleType):
    """Stands at an old path; every attribute is read from the module's new place."""

    def __getattr__(self, name):
        return getattr(importlib.import_module(MOVED[self.__name__]), name)

    def __dir__(self):
        return dir(importlib.import_module(MOVED[self.__name__]))


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}; the old path goes in tfxai 0.3", DeprecationWarning, stacklevel=2)
        return _MovedModule(spec.name)

    def exec_module(self, module):
        importlib.import_module(MOVED[module.__name__])  # an error in the new module shows at import, as before


def install():
    """Serve the old paths (once per process)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
