"""Quantization: bit-depth reduction with optional dithering, and JPEG compression.

JPEG runs as tensor operations inside the graph (8x8 block DCT, the standard IJG
quantization tables scaled by quality, rounding, inverse DCT), so it is batched, seeded,
per-image in quality, and compiles with XLA on any device, unlike an image codec call.
Colour images go through YCbCr with the chroma table; chroma is not subsampled.
"""

import math

import attrs
import keras
import numpy as np
from keras import ops

import daekit
from daekit import SeedStream, option, per_image_uniform

_BAYER_4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) / 16.0 + 1.0 / 32.0 - 0.5


@keras.saving.register_keras_serializable(package="daekit")
class Quantize(daekit.Corruption):
    """Reduces each image to ``2**bits`` grey levels, with no, ordered (Bayer) or random dithering.

    With ``bits_min`` below ``bits``, each image draws its bit depth from ``[bits_min, bits]``.
    """

    name = "quantize"
    SEVERITIES = {1: {"bits": 3}, 2: {"bits": 2}, 3: {"bits": 2, "dither": "random"}, 4: {"bits": 2, "bits_min": 1},
                  5: {"bits": 1}}

    @attrs.frozen
    class Options:
        bits: int = option(3, min=1, max=8, help="Bits per channel after quantization.")
        bits_min: int = option(0, min=0, max=8, help="If 1..bits-1, draw each image's bit depth from [bits_min, bits].")
        dither: str = option("none", choices=("none", "ordered", "random"), help="Dithering before rounding.")

    def corrupt(self, images, seed):
        seeds = SeedStream(seed)
        o = self.options
        low = o.bits_min if 0 < o.bits_min < o.bits else o.bits
        bits = ops.floor(per_image_uniform(images, float(low), float(o.bits) + 0.999, seeds()))
        levels = ops.power(2.0, bits) - 1.0
        if o.dither == "random":
            offset = keras.random.uniform(ops.shape(images), -0.5, 0.5, dtype=images.dtype, seed=seeds())
        elif o.dither == "ordered":
            height, width = ops.shape(images)[1], ops.shape(images)[2]
            reps_y, reps_x = -(-height // 4), -(-width // 4)
            tiled = ops.tile(ops.convert_to_tensor(_BAYER_4, images.dtype), (reps_y, reps_x))
            offset = tiled[None, :height, :width, None]
        else:
            offset = 0.0
        return ops.clip(ops.round(images * levels + offset) / levels, 0.0, 1.0)


_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float32).reshape(8, 8)
_CHROMA = np.full((8, 8), 99.0, np.float32)
_CHROMA[:4, :4] = np.array([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]], np.float32)


def _dct_matrix() -> np.ndarray:
    matrix = np.zeros((8, 8), np.float32)
    for k in range(8):
        for n in range(8):
            scale = math.sqrt(1 / 8) if k == 0 else math.sqrt(2 / 8)
            matrix[k, n] = scale * math.cos(math.pi * (2 * n + 1) * k / 16)
    return matrix


_DCT = _dct_matrix()
_RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)


@keras.saving.register_keras_serializable(package="daekit")
class Jpeg(daekit.Corruption):
    """JPEG compression artefacts (blocking, ringing) at a quality from 1 to 100.

    With ``quality_min`` below ``quality``, each image draws its quality from
    ``[quality_min, quality]``.
    """

    name = "jpeg"
    SEVERITIES = {1: {"quality": 60}, 2: {"quality": 18}, 3: {"quality": 8}, 4: {"quality": 2}, 5: {"quality": 1}}

    @attrs.frozen
    class Options:
        quality: int = option(30, min=1, max=100, help="JPEG quality (higher is better).")
        quality_min: int = option(0, min=0, max=100, help="If 1..quality-1, draw each image's quality from [quality_min, quality].")

    def corrupt(self, images, seed):
        o = self.options
        low = o.quality_min if 0 < o.quality_min < o.quality else o.quality
        quality = ops.floor(per_image_uniform(images, float(low), float(o.quality) + 0.999, seed))[:, :, :, :, None]
        scale = ops.where(quality < 50, 5000.0 / quality, 200.0 - 2.0 * quality)
        channels = images.shape[-1]
        tables = np.stack([_LUMA] + [_CHROMA] * (channels - 1)) if channels in (1, 3) else np.stack([_LUMA] * channels)
        # (batch, 1, 1, channels, 8, 8): one table per channel, scaled per image
        q = ops.clip(ops.floor((ops.convert_to_tensor(tables)[None, None, None] * scale[..., None] + 50.0) / 100.0), 1.0, 255.0)
        x = images
        if channels == 3:
            x = ops.einsum("bhwc,dc->bhwd", x, ops.convert_to_tensor(_RGB_TO_YCBCR)) + ops.convert_to_tensor([0.0, 0.5, 0.5])
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        pad_h, pad_w = (-height) % 8, (-width) % 8
        x = ops.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="symmetric") * 255.0 - 128.0
        blocks_h, blocks_w = (height + pad_h) // 8, (width + pad_w) // 8
        blocks = ops.transpose(ops.reshape(x, (-1, blocks_h, 8, blocks_w, 8, channels)), (0, 1, 3, 5, 2, 4))
        dct = ops.convert_to_tensor(_DCT)
        coefficients = ops.einsum("ij,bhwcjk,lk->bhwcil", dct, blocks, dct)
        coefficients = ops.round(coefficients / q) * q
        blocks = ops.einsum("ji,bhwcjk,kl->bhwcil", dct, coefficients, dct)
        x = ops.reshape(ops.transpose(blocks, (0, 1, 4, 2, 5, 3)), (-1, blocks_h * 8, blocks_w * 8, channels))
        x = (x[:, :height, :width, :] + 128.0) / 255.0
        if channels == 3:
            inverse = np.linalg.inv(_RGB_TO_YCBCR).astype(np.float32)
            x = ops.einsum("bhwc,dc->bhwd", x - ops.convert_to_tensor([0.0, 0.5, 0.5]), ops.convert_to_tensor(inverse))
        return ops.clip(x, 0.0, 1.0)


@daekit.hookimpl
def register_corruptions(register):
    register(Quantize)
    register(Jpeg)
