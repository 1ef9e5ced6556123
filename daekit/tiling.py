"""Denoising whole images of any size: padding to the model's multiple, overlapping tiles
blended with a smooth window, and the channel and bit-depth conversions around them.

A fully convolutional model (one whose encoder reports a ``size_multiple``) takes any size
once the image is padded (by reflection) to that multiple. An image larger than one tile is
cut into overlapping tiles on a grid of that multiple, so that every tile sees the pixels
the way the whole image would; the tiles are run in batches and blended. Each tile's weight
is zero in the outer quarter of the overlap along an edge it shares with another tile,
where the tile's output lacks context, and rises as a raised cosine over the middle half:
where the model's receptive field reaches less than a quarter of the overlap, the blend
equals the whole-image output (tests compare them to 1e-4).
"""

from __future__ import annotations

import weakref

import numpy as np

from daekit.data.files import convert_channels, from_unit, to_unit
from daekit.errors import ConfigError

#: Tile side where the memory a pass takes cannot be estimated (a backend other than
#: TensorFlow): a megapixel per pass.
DEFAULT_TILE = 1024
#: The largest tile chosen from a memory budget: larger passes are no faster on a CPU.
MAX_TILE = 2048
#: Share of the memory available when restoring begins that the tiles may take by default.
MEMORY_SHARE = 0.25
#: Overlap of neighbouring tiles by default; its outer quarter (32 pixels) is left to the
#: neighbour, which covers the receptive field of the built-in U-Nets.
DEFAULT_OVERLAP = 128
#: Pixels per model call: tiles are batched up to a megapixel (one default tile). Larger
#: calls are no faster on a CPU (bench/photos.py) and hold more activations at once.
BATCH_PIXELS = 1024 * 1024


def size_multiple(model) -> int | None:
    """The multiple image sides are padded to for a fully convolutional model; ``None`` when
    the model takes only its training size (a dense code, a decoder of fixed size)."""
    if not getattr(model.decoder, "any_size", False):
        return None
    return model.encoder.size_multiple()


def why_fixed(model) -> str:
    """Why a model takes only its training size, for error messages."""
    encoder, decoder = type(model.encoder).name, type(model.decoder).name
    if model.encoder.size_multiple() is None:
        return f"its encoder {encoder!r} is not fully convolutional (it flattens its map to a code)"
    return f"its decoder {decoder!r} grows images of one size only"


def check_size(model, height: int, width: int, what: str = "images") -> None:
    """Refuse ``height`` x ``width`` images the model cannot take, with the reason."""
    trained = tuple(model.image_shape[:2])
    if size_multiple(model) is None and (height, width) != trained:
        raise ConfigError(f"the model takes {trained[0]}x{trained[1]} images only, and {what} are {height}x{width}: "
                          f"{why_fixed(model)}; use a fully convolutional model (such as the 'unet' encoder "
                          "and decoder) or --resize")


_PASS_BYTES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pass_bytes_per_pixel(model) -> float | None:
    """Bytes of the tensors one pass of ``model`` computes, per input pixel: every floating
    point output of every operation of its inference graph, as if all were held at once (an
    upper bound on what a pass holds; TensorFlow frees most of them on the way). Found from
    the graphs of two sizes, so that the weights, which do not grow with the image, drop out.
    ``None`` on a backend other than TensorFlow or for a model of one size."""
    multiple = size_multiple(model)
    if multiple is None:
        return None
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    if model in _PASS_BYTES:
        return _PASS_BYTES[model]
    import tensorflow as tf

    def graph_bytes(side: int) -> int:
        spec = tf.TensorSpec((1, side, side, model.image_shape[-1]), tf.float32)
        graph = tf.function(lambda images: model(images, training=False)).get_concrete_function(spec).graph
        return sum(output.shape.num_elements() * output.dtype.size for op in graph.get_operations()
                   for output in op.outputs if output.dtype.is_floating and output.shape.is_fully_defined())

    small = _round_up(64, multiple)
    per_pixel = (graph_bytes(2 * small) - graph_bytes(small)) / (3 * small * small)
    _PASS_BYTES[model] = per_pixel
    return per_pixel


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of ``/proc/meminfo``), else 4 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 * 2**30


def tile_for(model, memory: float | None = None) -> int:
    """The tile side whose pass fits ``memory`` bytes (by :func:`pass_bytes_per_pixel`; by
    default :data:`MEMORY_SHARE` of :func:`available_memory`), on the model's grid, between
    twice :data:`DEFAULT_OVERLAP` and :data:`MAX_TILE`."""
    per_pixel = pass_bytes_per_pixel(model)
    if per_pixel is None or per_pixel <= 0:
        return DEFAULT_TILE
    multiple = size_multiple(model)
    memory = MEMORY_SHARE * available_memory() if memory is None else memory
    side = int((memory / per_pixel) ** 0.5) // multiple * multiple
    return int(min(max(side, _round_up(2 * DEFAULT_OVERLAP, multiple)), _round_up(MAX_TILE, multiple)))


def _ramp(length: int, overlap: int) -> np.ndarray:
    """Weights rising from 0 to 1 over the middle half of ``overlap``, for ``length`` pixels."""
    position = (np.arange(length) + 0.5 - overlap / 4) / (overlap / 2)
    return np.sin(np.pi / 2 * np.clip(position, 0.0, 1.0)) ** 2


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def _window(start: int, size: int, length: int, overlap: int) -> np.ndarray:
    weights = np.ones(size)
    if start > 0:
        weights *= _ramp(size, overlap)
    if start + size < length:
        weights *= _ramp(size, overlap)[::-1]
    return weights


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def outputs_of(model, batch: np.ndarray) -> np.ndarray:
    """The model's outputs for one batch, as a NumPy array.

    Under TensorFlow's MultiWorkerMirroredStrategy, ``model.predict`` splits the batch across
    the workers and gathers the outputs back over the network; every worker has the same
    weights and the same images here, so each computes the whole batch on its own instead,
    and validation and evaluation between and after epochs add no traffic between workers.
    """
    if _across_workers():
        import keras

        return np.asarray(keras.ops.convert_to_numpy(model(batch, training=False)))
    return np.asarray(model.predict(batch, batch_size=len(batch), verbose=0))


def _across_workers() -> bool:
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy() and isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def predict_tiled(model, image: np.ndarray, tile: int | None = None, overlap: int | None = None,
                  batch_size: int | None = None, memory: float | None = None) -> np.ndarray:
    """The model's output for one float32 ``(height, width, model channels)`` image of any
    size, in tiles where it is larger than ``tile`` (by default :func:`tile_for` ``memory``
    bytes), batched up to a megapixel and within ``memory``."""
    height, width = image.shape[:2]
    multiple = size_multiple(model)
    if multiple is None:
        check_size(model, height, width, "these")
        return outputs_of(model, image[None])[0]
    budgeted = tile is None
    tile = _round_up(tile or tile_for(model, memory), multiple)
    overlap = _round_up(DEFAULT_OVERLAP if overlap is None else overlap, multiple)
    if overlap >= tile:
        raise ConfigError(f"overlap={overlap} must be smaller than tile={tile}")
    padded_h, padded_w = _round_up(height, multiple), _round_up(width, multiple)
    padded = np.pad(image, ((0, padded_h - height), (0, padded_w - width), (0, 0)), mode="symmetric")
    tile_h, tile_w = min(tile, padded_h), min(tile, padded_w)
    corners = [(top, left) for top in _starts(padded_h, tile_h, tile_h - overlap)
               for left in _starts(padded_w, tile_w, tile_w - overlap)]
    if len(corners) == 1:
        return outputs_of(model, padded[None])[0][:height, :width]
    if batch_size is None:
        batch_size = max(1, BATCH_PIXELS // (tile_h * tile_w))
        if budgeted:  # as many tiles as the budget holds
            per_pixel = pass_bytes_per_pixel(model) or 0
            limit = MEMORY_SHARE * available_memory() if memory is None else memory
            batch_size = max(1, min(batch_size, int(limit // max(per_pixel * tile_h * tile_w, 1))))
    total = np.zeros(padded.shape[:2] + (model.image_shape[-1],), np.float32)
    weights = np.zeros(padded.shape[:2] + (1,), np.float32)
    for first in range(0, len(corners), batch_size):
        chunk = corners[first:first + batch_size]
        tiles = np.stack([padded[t:t + tile_h, l:l + tile_w] for t, l in chunk])
        outputs = outputs_of(model, tiles)
        for (top, left), output in zip(chunk, outputs):
            window = np.outer(_window(top, tile_h, padded_h, overlap), _window(left, tile_w, padded_w, overlap))
            total[top:top + tile_h, left:left + tile_w] += output * window[..., None]
            weights[top:top + tile_h, left:left + tile_w] += window[..., None]
    return (total / weights)[:height, :width]


def denoise(model, image: np.ndarray, tile: int | None = None, overlap: int | None = None,
            resize: bool = False, memory: float | None = None) -> np.ndarray:
    """Denoise one image of any size with a trained model.

    The image keeps its size, channels and type: ``uint8`` and ``uint16`` images come back
    in their own bit depth, float images (taken as [0, 1]) as float32. A grey model denoises
    each colour channel of an RGB image on its own; an RGB model is given a grey image as
    RGB and its output is turned back to luminance; an alpha channel passes through unchanged.

    Example:
        >>> restored = daekit.denoise(daekit.load_model("runs/photo/model.keras"), noisy_uint16)

    Args:
        tile: Tile side for images larger than one pass; by default the largest whose pass
            fits ``memory`` (:func:`tile_for`).
        overlap: Overlap of neighbouring tiles (default :data:`DEFAULT_OVERLAP`).
        resize: For a model that takes one size only, resize to it and back instead of refusing.
        memory: Bytes the tiles of one model call may take; by default a quarter of the
            memory available.
    """
    pixels = np.asarray(image)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 2, 3, 4):
        raise ConfigError(f"an image is (height, width) or (height, width, 1 to 4 channels); got shape {np.shape(image)}")
    unit = to_unit(pixels)
    alpha = unit[..., -1:] if pixels.shape[-1] in (2, 4) else None
    colour = unit[..., :-1] if alpha is not None else unit
    channels = model.image_shape[-1]
    if channels == 1 and colour.shape[-1] == 3:
        planes = [_restore(model, colour[..., c:c + 1], tile, overlap, resize, memory) for c in range(3)]
        restored = np.concatenate(planes, axis=-1)
    elif channels == 3 and colour.shape[-1] == 1:
        restored = _restore(model, np.repeat(colour, 3, axis=-1), tile, overlap, resize, memory)
        restored = convert_channels(restored, 1)
    else:
        restored = _restore(model, colour, tile, overlap, resize, memory)
    restored = np.clip(restored, 0.0, 1.0).astype(np.float32)
    if alpha is not None:
        restored = np.concatenate([restored, alpha], axis=-1)
    restored = restored.reshape(np.shape(image)) if np.ndim(image) == 2 else restored
    return from_unit(restored, pixels.dtype) if pixels.dtype in (np.uint8, np.uint16) else restored


def _restore(model, image: np.ndarray, tile, overlap, resize: bool, memory) -> np.ndarray:
    height, width = image.shape[:2]
    if resize and size_multiple(model) is None and (height, width) != tuple(model.image_shape[:2]):
        import tensorflow as tf

        small = tf.image.resize(image, model.image_shape[:2], antialias=True).numpy()
        output = np.asarray(model.predict(small[None], verbose=0)[0])
        return tf.image.resize(output, (height, width)).numpy()
    return predict_tiled(model, image, tile, overlap, memory=memory)
