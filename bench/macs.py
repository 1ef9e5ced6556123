"""Multiply-adds per image of a recipe's network, by layer: what each architecture change costs.

Usage:
    python bench/macs.py --preset unet
    python bench/macs.py --preset unet --set decoder=unet:filters=64,convs=3,activation=silu,space_to_depth=2,merge=add

Counts the convolutions and dense layers of one forward pass (a 3x3 convolution from C to F
channels on an H x W map: H*W*9*C*F); normalization, activations and the corruption are left
out. Training costs about three times the forward pass.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

import daekit


def count(model, image_shape) -> list[tuple[str, str, int]]:
    rows = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense)):
            continue

        def recording(inputs, *args, _layer=layer, _call=layer.call, **kwargs):
            outputs = _call(inputs, *args, **kwargs)
            kernel = int(np.prod(_layer.kernel.shape))
            if isinstance(_layer, keras.layers.Conv2DTranspose):
                positions = int(np.prod(inputs.shape[1:-1]))  # each input pixel scatters a whole kernel
            else:
                positions = int(np.prod(outputs.shape[1:-1]))
            rows.append((_layer.path, f"{tuple(inputs.shape[1:])} -> {tuple(outputs.shape[1:])}", positions * kernel))
            return outputs

        layer.call = recording
    model.predict(np.zeros((1, *image_shape), "float32"), verbose=0)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="unet")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig override.")
    parser.add_argument("--layers", action="store_true", help="Print every layer, not only the total.")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    config = daekit.TrainConfig.resolve(preset=args.preset, **overrides)
    side = config.patch or config.resize or 28
    image_shape = (side, side, config.channels)
    model = daekit.build_model(config.corruption, config.encoder, config.decoder, image_shape=image_shape, seed=0)
    rows = count(model, image_shape)
    if args.layers:
        for path, shapes, macs in rows:
            print(f"{path:60} {shapes:34} {macs:>12,}")
    total = sum(macs for *_, macs in rows)
    print(f"{config.encoder} / {config.decoder}: {model.count_params():,} parameters, "
          f"{total / 1e6:.1f} M multiply-adds per image (forward)")


if __name__ == "__main__":
    main()
