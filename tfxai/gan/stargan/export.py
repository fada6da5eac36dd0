"""SavedModel export of a StarGAN v2 translator and of a style-TTA classifier.

Both load with plain ``tf.saved_model.load`` (no tfxai). Images are float32 in [0, 255].

- translator: ``serving_default`` / ``translate_latent(images, domains, latents)`` and
  ``translate_reference(images, domains, references)`` -> ``{"images"}`` (EMA networks);
- TTA classifier: ``serving_default(images)`` -> ``{"probabilities", "class_id"}``, N random styles per image.
"""

import keras
import tensorflow as tf

from tfxai.io import atomic_path

__all__ = ["export_translator", "export_tta"]


def export_translator(model, path):
    """Write ``model``'s EMA translator (a :class:`StarGANv2`) to the SavedModel folder ``path``."""
    size, latent_dim = model.image_size, model.latent_dim
    images = tf.TensorSpec([None, size, size, 3], tf.float32, name="images")
    domains = tf.TensorSpec([None], tf.int32, name="domains")
    latents = tf.TensorSpec([None, latent_dim], tf.float32, name="latents")
    references = tf.TensorSpec([None, size, size, 3], tf.float32, name="references")
    archive = _archive([model])
    for name, signature, style in (("serving_default", latents, "latents"), ("translate_latent", latents, "latents"),
                                   ("translate_reference", references, "references")):
        archive.add_endpoint(name, _translation(model, style), input_signature=[images, domains, signature])
    _save(archive, path)


def _translation(model, style):
    def translate(images, domains, codes):
        return {"images": model.translate(images, domains, **{style: codes})}

    return translate


def export_tta(tta, path, image_shape):
    """Write a :class:`StyleTTA` classifier (images (None, *image_shape) in [0, 255]) to ``path``."""
    archive = _archive([tta.classifier, tta.generator, tta.mapping])

    def serve(images):
        probabilities = tta(images)
        return {"probabilities": probabilities, "class_id": tf.argmax(probabilities, axis=-1, output_type=tf.int32)}

    archive.add_endpoint("serving_default", serve, input_signature=[tf.TensorSpec([None, *image_shape], tf.float32, name="images")])
    _save(archive, path)


def _archive(networks):
    archive = keras.export.ExportArchive()
    for network in networks:
        archive.track(network)
    return archive


def _save(archive, path):
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)
