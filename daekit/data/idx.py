"""A strict reader of the IDX format used by MNIST and Fashion-MNIST (``.gz`` or raw).

Every check names the file and says what was expected and what was found: the magic
number, the element type, the number and sizes of dimensions, and the exact file size, so
a truncated download or a file with bytes appended is caught instead of read as garbage.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from daekit.errors import DataError

# type code -> (numpy dtype, big-endian)
_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(f"{path}: the gzip stream is truncated ({len(raw)} bytes on disk); download the file again") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: not a valid gzip file: {exc}") from None


def read_idx(path: str | Path, ndim: int | None = None, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """Read one IDX file into an array.

    Args:
        path: An IDX file, gzip-compressed when its name ends in ``.gz``.
        ndim: The number of dimensions the caller expects (3 for images, 1 for labels).
        shape: Expected sizes per dimension; ``None`` entries accept any size.

    Raises:
        DataError: Naming the file, the byte offset and what was expected versus found.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes, too short for an IDX header (4 bytes at least)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path}: bad magic number at byte 0: expected 0x0000 then a type code, found 0x{data[:4].hex()}; "
            "this is not an IDX file"
        )
    type_code, dims = data[2], data[3]
    if type_code not in _TYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{type_code:02x} at byte 2 (expected one of "
                        f"{', '.join(f'0x{code:02x}' for code in _TYPES)})")
    if ndim is not None and dims != ndim:
        raise DataError(f"{path}: expected {ndim} dimensions, the header at byte 3 says {dims}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise DataError(f"{path}: truncated header: {dims} dimensions need {header} bytes, the file has {len(data)}")
    sizes = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    if shape is not None:
        for index, (want, got) in enumerate(zip(shape, sizes)):
            if want is not None and want != got:
                raise DataError(f"{path}: dimension {index} (at byte {4 + 4 * index}) is {got}, expected {want}")
    dtype = _TYPES[type_code]
    expected = header + int(np.prod(sizes, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has extra bytes"
        raise DataError(
            f"{path}: {what}: a {'x'.join(map(str, sizes))} IDX array of {dtype.name} needs {expected} bytes "
            f"(uncompressed), found {len(data)}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(sizes).astype(dtype.newbyteorder("="))
