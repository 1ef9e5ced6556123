"""Reading and writing image files for ``daekit denoise``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from daekit.errors import DataError


def read_image(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """One PNG or JPEG as float32 in [0, 1], resized to ``height`` x ``width``."""
    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), channels=channels, expand_animations=False)
    except (tf.errors.OpError, ValueError) as exc:
        message = getattr(exc, "message", str(exc)).splitlines()[0]
        raise DataError(f"{path}: cannot read image: {message}") from None
    image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, (height, width), antialias=True)
    return np.clip(image.numpy(), 0.0, 1.0)


def write_png(path: Path, image: np.ndarray) -> None:
    pixels = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)
    tf.io.write_file(str(path), tf.io.encode_png(pixels))


def denoise_files(model, inputs: list[Path], out: Path) -> list[Path]:
    """Denoise ``inputs`` into ``out``/<name>.png; every unreadable input is reported first."""
    height, width, channels = model.image_shape
    images, problems = [], []
    for path in inputs:
        try:
            images.append(read_image(path, height, width, channels))
        except DataError as exc:
            problems.append(str(exc))
    if problems:
        raise DataError("; ".join(problems))
    targets = [Path(out) / f"{path.stem}.png" for path in inputs]
    clashes = [str(t) for t in targets if any(t.resolve() == p.resolve() for p in inputs)]
    if clashes or len(set(targets)) != len(targets):
        raise DataError(f"output names clash with inputs or with each other: {', '.join(clashes) or targets}")
    Path(out).mkdir(parents=True, exist_ok=True)
    denoised = model.predict(np.stack(images), verbose=0)
    for target, image in zip(targets, denoised):
        write_png(target, image)
    return targets
