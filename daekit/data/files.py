"""Image files: what they hold, read from their headers, and their pixels, read and written
at their own size, channels and bit depth.

Formats: PNG (8 and 16 bits, any colour type), JPEG, BMP and TIFF (the first page). Each
format goes through the library that reads it best:

- PNG through TensorFlow's decoder, which keeps 16-bit colour (Pillow cuts 16-bit RGB to 8
  bits); its bit depth is read from the file's IHDR chunk, which is what the header says;
- JPEG and BMP through Pillow;
- TIFF through ``tifffile``.

Sizes come from the headers (Pillow opens files lazily; ``tifffile`` reads page shapes), so a
decompression bomb is refused by its size before a byte of it is decoded.
"""

from __future__ import annotations

import struct
from pathlib import Path

import attrs
import numpy as np

from daekit.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Images with more pixels than this are refused by default (about 15,000 x 15,000).
MAX_PIXELS = 225_000_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# RGB to luminance with ITU-R BT.601 weights, as tf.image.rgb_to_grayscale and Pillow's "L".
_LUMA = np.array([0.2989, 0.5870, 0.1140], np.float32)


@attrs.frozen
class ImageFile:
    """One image file as its header describes it."""

    path: Path
    height: int
    width: int
    channels: int
    bits: int  # 8 or 16


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under ``folder`` (recursively), sorted, hidden files left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a directory")
    return sorted(path for path in folder.rglob("*")
                  if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def _png_header(path: Path) -> tuple[int, int, int, int]:
    """(height, width, channels, bits) from a PNG's IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise DataError(f"{path}: not a PNG file (no PNG signature and IHDR header)")
    width, height, bits, colour = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour)
    if channels is None or width == 0 or height == 0:
        raise DataError(f"{path}: damaged PNG header (colour type {colour}, {width}x{height})")
    return height, width, channels, 16 if bits == 16 else 8


def probe(path: str | Path, max_pixels: int = MAX_PIXELS) -> ImageFile:
    """The header of one image file, without decoding its pixels.

    Raises:
        DataError: The file is unreadable, not an image of a known format, or has more than
            ``max_pixels`` pixels (named with its size).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".png":
            height, width, channels, bits = _png_header(path)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tiff:
                page = tiff.pages[0]
                shape, dtype = page.shape, page.dtype
            height, width, channels = _tiff_layout(path, shape)
            if dtype not in (np.uint8, np.uint16, np.float32, np.float64):
                raise DataError(f"{path}: TIFF samples of type {dtype}; daekit reads 8- and 16-bit integers and floats in [0, 1]")
            bits = 16 if dtype == np.uint16 else 8
        else:
            from PIL import Image

            with Image.open(path) as image:
                width, height = image.size
                channels = {"L": 1, "1": 1, "P": 3, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 3}.get(image.mode, 3)
                bits = 16 if image.mode.startswith("I;16") else 8
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - every library's own error, named with the file
        raise DataError(f"{path}: cannot read image: {_reason(exc)}") from None
    if height * width > max_pixels:
        raise DataError(f"{path}: {width}x{height} is {height * width:,} pixels, over the limit of {max_pixels:,} "
                        "(a decompression bomb, or raise --max-pixels)")
    return ImageFile(path, height, width, channels, bits)


def _tiff_layout(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) == 2:
        return shape[0], shape[1], 1
    if len(shape) == 3 and shape[-1] in (1, 2, 3, 4):
        return shape[0], shape[1], shape[2]
    raise DataError(f"{path}: a TIFF page of shape {shape}; daekit reads height x width (x 1 to 4 channels)")


def _reason(exc: BaseException) -> str:
    """The first line of a library's error, without TensorFlow's op decorations."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    text = text.split("[Op:")[0]
    if "}}" in text:
        text = text.split("}}", 1)[1]
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def read_pixels(info: ImageFile) -> np.ndarray:
    """The pixels of one file as ``(height, width, channels)`` ``uint8`` or ``uint16``, as stored.

    Raises:
        DataError: The file is truncated or damaged, or does not match its header.
    """
    path = info.path
    try:
        if path.suffix.lower() == ".png":
            import tensorflow as tf

            pixels = tf.io.decode_png(tf.io.read_file(str(path)), dtype=tf.uint16 if info.bits == 16 else tf.uint8).numpy()
        elif path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            pixels = tifffile.imread(path, key=0)
            if pixels.dtype.kind == "f":  # floats are taken as [0, 1]; stored as 16 bits
                pixels = np.rint(np.clip(pixels, 0.0, 1.0) * 65535).astype(np.uint16)
        else:
            from PIL import Image

            with Image.open(path) as image:
                mode = {"1": "L", "P": "RGBA" if "transparency" in image.info else "RGB", "CMYK": "RGB"}.get(image.mode)
                pixels = np.asarray(image.convert(mode) if mode else image)
    except Exception as exc:  # noqa: BLE001 - named with the file
        raise DataError(f"{path}: cannot decode image: {_reason(exc)}") from None
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    if pixels.shape[:2] != (info.height, info.width):
        raise DataError(f"{path}: decoded {pixels.shape[1]}x{pixels.shape[0]} pixels, but its header says "
                        f"{info.width}x{info.height}")
    return pixels if pixels.dtype in (np.uint8, np.uint16) else pixels.astype(np.uint8)


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """One image file's pixels, ``(height, width, channels)`` ``uint8`` or ``uint16`` as stored
    (alpha kept), after checking its header.

    Example:
        >>> noisy = daekit.read_image("scan.tif")        # uint16, (2000, 3000, 1)
        >>> daekit.write_image("restored.tif", daekit.denoise(model, noisy))
    """
    return read_pixels(probe(path, max_pixels))


def convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """Pixels with ``channels`` (1 or 3) channels: alpha dropped, RGB to luminance (BT.601),
    grey repeated to RGB; the dtype is kept."""
    if pixels.shape[-1] in (2, 4):
        pixels = pixels[..., :-1]
    have = pixels.shape[-1]
    if have == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=-1)
    luma = (pixels.astype(np.float32) @ _LUMA)[..., None]
    return np.rint(luma).astype(pixels.dtype) if pixels.dtype.kind in "ui" else luma.astype(pixels.dtype)


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """Integer pixels to float32 in [0, 1], scaled by their bit depth."""
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    return pixels.astype(np.float32)


def from_unit(image: np.ndarray, dtype) -> np.ndarray:
    """Float pixels in [0, 1] to ``uint8`` or ``uint16``."""
    peak = 65535 if np.dtype(dtype) == np.uint16 else 255
    return np.rint(np.clip(image, 0.0, 1.0) * peak).astype(dtype)


def write_image(path: str | Path, pixels: np.ndarray) -> Path:
    """Write ``uint8`` or ``uint16`` pixels in the format that ``path``'s suffix names: 16 bits
    stay 16 bits in PNG and TIFF; JPEG and BMP hold 8 bits. Written to a temporary file first,
    so an existing file is replaced whole or not at all."""
    path = Path(path)
    suffix = path.suffix.lower()
    temporary = path.with_name(f".{path.name}.partial")
    try:
        if suffix == ".png":
            import tensorflow as tf

            temporary.write_bytes(tf.io.encode_png(pixels).numpy())
        elif suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(temporary, pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        elif suffix in (".jpg", ".jpeg", ".bmp"):
            from PIL import Image

            eight = (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels
            image = Image.fromarray(eight[..., 0] if eight.shape[-1] == 1 else eight)
            options = {"quality": 95} if suffix != ".bmp" else {}
            image.save(temporary, format="JPEG" if suffix != ".bmp" else "BMP", **options)
        else:
            raise DataError(f"{path}: cannot write {suffix or 'files without a suffix'}; "
                            f"use one of {', '.join(IMAGE_SUFFIXES)}")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path
