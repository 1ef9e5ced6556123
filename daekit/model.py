"""The assembled denoising autoencoder: corruption, then encoder, then decoder."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import keras

from daekit.components import Component, Corruption, Decoder, Encoder
from daekit.config import ComponentSpec
from daekit.errors import ConfigError
from daekit.manager import Plugins, get_plugins
from daekit.options import build_options


@keras.saving.register_keras_serializable(package="daekit")
class DenoisingAutoencoder(keras.Model):
    """A Keras model that corrupts its input in training and reconstructs the clean image.

    Called in inference mode it denoises its input. In ``fit`` it is given clean images as
    both input and target: the corruption layer draws fresh seeded noise inside the compiled
    training step, on the device, and the loss compares the output with the clean batch.

    Args:
        corruption: A :class:`daekit.Corruption` layer.
        encoder: A :class:`daekit.Encoder` layer.
        decoder: A :class:`daekit.Decoder` layer producing ``image_shape``.
        image_shape: ``(height, width, channels)``.
        manifest: For each part, its name, Keras name, plugin, distribution and version.
    """

    def __init__(self, corruption, encoder, decoder, image_shape, manifest=None, **kwargs):
        super().__init__(**kwargs)
        self.corruption = corruption
        self.encoder = encoder
        self.decoder = decoder
        self.image_shape = tuple(int(size) for size in image_shape)
        self.manifest = dict(manifest or {})

    def build(self, input_shape):
        # Parts rebuilt from a saved config arrive already built.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        code_shape = self.encoder.compute_output_shape(input_shape)
        self.decoder.check_code(code_shape, self.encoder.code_layout(input_shape))
        if not self.decoder.built:
            self.decoder.build(code_shape)

    def call(self, images, training=False):
        x = self.corruption(images, training=training)
        return self.decoder(self.encoder(x, training=training), training=training)

    def get_config(self):
        return {
            "name": self.name,
            "image_shape": list(self.image_shape),
            "manifest": self.manifest,
            **{part: keras.saving.serialize_keras_object(getattr(self, part)) for part in ("corruption", "encoder", "decoder")},
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("corruption", "encoder", "decoder"):
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)


def _instantiate(kind: str, spec: Any, plugins: Plugins, **extra) -> Component:
    if isinstance(spec, Component):
        return spec
    spec = ComponentSpec.coerce(spec)
    cls = plugins.component(kind, spec.name)
    options = build_options(cls.Options, spec.options, owner=cls.describe())
    return cls(**{f: getattr(options, f) for f in spec.options}, **extra)


def part_manifest(component: Component, plugins: Plugins) -> dict[str, Any]:
    """Where a component comes from, so a saved model can say what to install."""
    cls = type(component)
    entry = {"kind": cls.kind, "name": cls.name, "registered_name": keras.saving.get_registered_name(cls)}
    registry = plugins.registries[cls.kind]
    if cls.name in registry and registry.get(cls.name) is cls:
        info = registry.plugin_of(cls.name)
        entry.update(plugin=info.name, distribution=info.distribution, version=info.version)
    return entry


def build_model(
    corruption: Any = "gaussian",
    encoder: Any = "conv",
    decoder: Any = "conv",
    image_shape=(28, 28, 1),
    seed: int | None = None,
    plugins: Plugins | None = None,
) -> DenoisingAutoencoder:
    """Assemble a built model from registry names, ``name:key=value`` strings or instances.

    Example:
        >>> model = daekit.build_model("gaussian:stddev=0.2", "conv", "conv:tail_filters=32")

    Raises:
        ConfigError: Unknown components, bad options, or an encoder and decoder that do not fit.
    """
    plugins = plugins or get_plugins()
    problems: list[str] = []
    parts = {}
    for kind, spec, extra in (
        ("corruption", corruption, {"seed": seed}),
        ("encoder", encoder, {}),
        ("decoder", decoder, {"image_shape": image_shape}),
    ):
        try:
            parts[kind] = _instantiate(kind, spec, plugins, **extra)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    for kind, base in (("corruption", Corruption), ("encoder", Encoder), ("decoder", Decoder)):
        if not isinstance(parts[kind], base):
            raise ConfigError(f"{kind}: {parts[kind]!r} is not a daekit.{base.__name__}")
    manifest = {kind: part_manifest(part, plugins) for kind, part in parts.items()}
    manifest["daekit"] = importlib.metadata.version("daekit")
    model = DenoisingAutoencoder(image_shape=image_shape, manifest=manifest, **parts)
    try:
        model.build((None, *model.image_shape))
    except (ConfigError, ValueError) as exc:
        raise ConfigError(
            f"encoder {str(encoder)!r} and decoder {str(decoder)!r} do not fit together "
            f"for images of {tuple(image_shape)}: {exc}"
        ) from None
    return model


def build_loss(spec: Any, plugins: Plugins | None = None):
    """A :class:`daekit.Loss` instance from a name, a ``name:key=value`` string or an instance."""
    return _instantiate("loss", spec, plugins or get_plugins())
