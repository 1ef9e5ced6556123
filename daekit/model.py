"""The assembled denoising autoencoder: corruption, then encoder, then decoder."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import keras

from daekit.components import Component, Loss
from daekit.config import ComponentSpec
from daekit.errors import ConfigError
from daekit.kinds import KINDS, MODEL_PARTS
from daekit.manager import Plugins, get_plugins
from daekit.options import build_options, options_to_dict


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
        # Plain attributes, kept out of Keras's tracking: set by compile(), used in training steps.
        object.__setattr__(self, "_mask_loss", None)
        object.__setattr__(self, "_pending_mask", None)
        object.__setattr__(self, "_pending_target", None)
        #: In training, compare the output with a second, independent draw of the corruption
        #: of the batch instead of the batch itself (Noise2Noise simulated, ``target=redraw``).
        object.__setattr__(self, "redraw_target", False)

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        object.__setattr__(self, "_mask_loss", self.loss if isinstance(self.loss, Loss) and self.loss.uses_mask else None)

    def build(self, input_shape):
        # Parts rebuilt from a saved config arrive already built.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        self.check_parts(input_shape)
        if self.encoder.provides_skips:
            # Skip-connected parts build their layers on a first call; run one on zeros.
            self.call(keras.ops.zeros((1, *input_shape[1:])))
        elif not self.decoder.built:
            self.decoder.build(self.encoder.code_shape(input_shape))

    def check_parts(self, input_shape):
        """Raise a ConfigError unless the decoder can take what the encoder makes of inputs of
        ``input_shape``: its code, and skip connections if it needs them."""
        if self.decoder.uses_skips and not self.encoder.provides_skips:
            raise ConfigError(
                f"decoder {type(self.decoder).name!r} needs skip connections, and encoder "
                f"{type(self.encoder).name!r} provides none; use an encoder that does (such as 'unet')"
            )
        self.decoder.check_code(self.encoder.code_shape(input_shape), self.encoder.code_layout(input_shape),
                                self.encoder.skip_shapes(input_shape))

    def call(self, images, training=False):
        if training and self._mask_loss is not None:
            # A masked loss weights the pixels the corruption touched: keep its mask for compute_loss.
            x, mask = self.corruption.apply(images, self.corruption.seed_generator, with_mask=True)
            object.__setattr__(self, "_pending_mask", mask)
        else:
            x = self.corruption(images, training=training)
        if training and self.redraw_target:
            object.__setattr__(self, "_pending_target", self.corruption.apply(images, self.corruption.seed_generator))
        return self.reconstruct(x, training=training)

    def reconstruct(self, images, training=False):
        """The encoder and decoder alone, without the corruption: the inference path that
        ``daekit export`` writes."""
        encoded = self.encoder(images, training=training)
        if not self.encoder.provides_skips:
            out = self.decoder(encoded, training=training)
        else:
            code, skips = encoded
            out = self.decoder(code, skips=skips, training=training) if self.decoder.uses_skips else self.decoder(code, training=training)
        # Images leave in float32 whatever the dtype policy, as Keras advises for mixed-precision outputs.
        return keras.ops.cast(out, "float32")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if training and self._pending_target is not None:
            y = self._pending_target
            object.__setattr__(self, "_pending_target", None)
        if training and self._mask_loss is not None and self._pending_mask is not None:
            sample_weight = self._mask_loss.pixel_weights(self._pending_mask)
            object.__setattr__(self, "_pending_mask", None)
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def get_config(self):
        return {
            "name": self.name,
            "image_shape": list(self.image_shape),
            "manifest": self.manifest,
            **{part: keras.saving.serialize_keras_object(getattr(self, part)) for part in MODEL_PARTS},
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in MODEL_PARTS:
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)


def build_component(kind: str, spec: Any, plugins: Plugins | None = None, **extra) -> Component:
    """A component of ``kind`` from a spec (``"name:key=value"``, a table or a ComponentSpec).

    Its constructor converts and validates every option; composed corruptions
    (``chain[a | b]``) build their parts first, and an unnamed list of parts (``[a | b]``)
    is built by the registry's chaining component (:meth:`Plugins.chaining`).
    """
    if isinstance(spec, Component):
        return spec
    plugins = plugins or get_plugins()
    spec = ComponentSpec.coerce(spec)
    cls = plugins.resolve(kind, spec)
    if spec.children:
        if not cls.composite:
            raise ConfigError(f"{cls.describe()} takes no components in [...]")
        extra["children"] = [build_component(kind, child, plugins) for child in spec.children]
    try:
        return cls(**spec.options, **extra)
    except TypeError as exc:  # a constructor argument the component does not take
        raise ConfigError(f"{cls.describe()}: {exc}") from None


def check_specs(specs: dict[str, Any], plugins: Plugins) -> None:
    """Resolve every component name and option of ``specs`` (kind -> spec) and report all
    problems at once; decoders are checked by their options only, since their image shape is
    known once the data is loaded."""
    problems = []
    for kind, spec in specs.items():
        try:
            spec = ComponentSpec.coerce(spec)
            if kind == "decoder":
                cls = plugins.resolve(kind, spec)
                build_options(cls.Options, spec.options, owner=cls.describe())
            else:
                build_component(kind, spec, plugins)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)


def resolved_spec(kind: str, spec: Any, plugins: Plugins) -> dict[str, Any]:
    """What a spec builds, as plain values: the component's name, its options with every
    default and severity filled in, a corruption's probability, and its parts. Specs that
    build the same component compare equal (``gaussian`` and ``gaussian:stddev=0.10``)."""
    spec = ComponentSpec.coerce(spec)
    cls = plugins.resolve(kind, spec)
    values = {key: value for key, value in spec.options.items() if key not in ("name", "dtype", "seed")}
    extra = {}
    if kind == "corruption":
        values = cls._apply_severity(values.pop("severity", None), values)
        extra["probability"] = float(values.pop("probability", 1.0))
    return {"name": cls.name, **options_to_dict(build_options(cls.Options, values, owner=cls.describe())), **extra,
            "parts": [resolved_spec(kind, child, plugins) for child in spec.children]}


def same_components(plugins: Plugins):
    """``same(key, saved, now)`` for the resume check: components compare by what they
    build (:func:`resolved_spec`), other settings by value."""
    def same(key, saved, now):
        if key not in KINDS or saved is None or now is None or saved == now:
            return saved == now
        try:
            return resolved_spec(key, saved, plugins) == resolved_spec(key, now, plugins)
        except ConfigError:  # one of them no longer resolves: they are not known to be the same
            return False
    return same


def part_manifest(component: Component, plugins: Plugins) -> dict[str, Any]:
    """Where a component comes from, so a saved model can say what to install."""
    cls = type(component)
    entry = {"kind": cls.kind, "name": cls.name, "registered_name": keras.saving.get_registered_name(cls)}
    registry = plugins.registries[cls.kind]
    if cls.name in registry and registry.get(cls.name) is cls:
        info = registry.plugin_of(cls.name)
        entry.update(plugin=info.name, distribution=info.distribution, version=info.version)
    if getattr(component, "children", None):
        entry["parts"] = [part_manifest(child, plugins) for child in component.children]
    return entry


def _float32_if_mixed() -> dict[str, str]:
    return {"dtype": "float32"} if keras.config.dtype_policy().name != "float32" else {}


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
        # Under a mixed-precision policy the corruption still works on float32 pixels.
        ("corruption", corruption, {"seed": seed, **_float32_if_mixed()}),
        ("encoder", encoder, {}),
        ("decoder", decoder, {"image_shape": image_shape}),
    ):
        try:
            parts[kind] = build_component(kind, spec, plugins, **extra)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    for kind in MODEL_PARTS:
        base = KINDS[kind].base_class()
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
    return build_component("loss", spec, plugins)
