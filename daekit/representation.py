"""The encoder's codes as features: extracting them, and judging them with the labels.

A code is what the encoder makes of an image, without the corruption: a flat code (a dense
bottleneck, ``conv:code=64``) as it is, a spatial one (a feature map, as the U-Net's
coarsest map) averaged over its height and width, so that every image gives one vector
whatever its size.

Two probes score codes on the labels, beside the same probes on the raw pixels and on a
PCA of the pixels of the same width as the code:

- a linear probe: a softmax layer trained with Keras (Adam, cross-entropy) on standardized
  training features, scored on the test features;
- k nearest neighbours: Euclidean distance between standardized features, majority vote of
  the ``k`` nearest training images (ties to the nearest).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from daekit.errors import ConfigError, DataError

EMBED_BATCH = 256


def _unit(images: np.ndarray) -> np.ndarray:
    from daekit.data.files import to_unit

    return to_unit(images) if images.dtype in (np.uint8, np.uint16) else np.asarray(images, np.float32)


def embed(model, images, batch_size: int = EMBED_BATCH) -> np.ndarray:
    """The encoder's code of each image, as float32 ``(count, width)``.

    Example:
        >>> codes = daekit.embed(daekit.load_model("runs/ae/model.keras"), test_images)

    Args:
        images: A ``(count, height, width, channels)`` array (``uint8``, ``uint16``, or
            float in [0, 1]), or a sequence of single images of any size (one at a time).
    """
    import keras

    def codes_of(batch: np.ndarray) -> np.ndarray:
        encoded = model.encoder(keras.ops.convert_to_tensor(batch), training=False)
        code = encoded[0] if model.encoder.provides_skips else encoded
        code = keras.ops.convert_to_numpy(keras.ops.cast(code, "float32"))
        if code.ndim == 4:  # a feature map: its mean over space
            return code.mean(axis=(1, 2))
        return code.reshape(len(code), -1)

    if isinstance(images, np.ndarray) and images.ndim == 4:
        if tuple(images.shape[1:]) != tuple(model.image_shape):
            from daekit.tiling import check_size

            check_size(model, *images.shape[1:3], "these images")
            if images.shape[-1] != model.image_shape[-1]:
                raise ConfigError(f"the model takes {model.image_shape[-1]}-channel images; these have {images.shape[-1]}")
        return np.concatenate([codes_of(_unit(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
                              or [np.zeros((0, 0), np.float32)])
    return np.concatenate([codes_of(_unit(np.asarray(image))[None]) for image in images])


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both scaled by the training features' mean and standard deviation."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def linear_probe(train_x, train_y, test_x, test_y, classes: int, seed: int = 0, epochs: int = 30) -> float:
    """Test accuracy of a softmax layer trained on the training features."""
    import keras

    train_x, test_x = standardize(np.asarray(train_x, np.float32), np.asarray(test_x, np.float32))
    keras.utils.set_random_seed(seed)
    probe = keras.Sequential([keras.Input((train_x.shape[1],)), keras.layers.Dense(classes, activation="softmax")])
    probe.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe.fit(train_x, np.asarray(train_y), batch_size=256, epochs=epochs, verbose=0)
    predicted = np.argmax(probe.predict(test_x, batch_size=1024, verbose=0), axis=1)
    return float(np.mean(predicted == np.asarray(test_y)))


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = 5, chunk: int = 512) -> float:
    """Test accuracy of a majority vote among the ``k`` nearest training features."""
    train_x, test_x = standardize(np.asarray(train_x, np.float32), np.asarray(test_x, np.float32))
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    k = min(k, len(train_x))
    squared = (train_x ** 2).sum(axis=1)
    correct = 0
    classes = int(max(train_y.max(), test_y.max())) + 1
    for start in range(0, len(test_x), chunk):
        block = test_x[start:start + chunk]
        distances = squared[None, :] - 2.0 * block @ train_x.T  # + |block|^2, the same for every column
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(distances, nearest, axis=1).argsort(axis=1)
        nearest = np.take_along_axis(nearest, order, axis=1)
        votes = np.zeros((len(block), classes))
        for rank in range(k):  # earlier ranks weigh a little more: ties go to the nearest
            np.add.at(votes, (np.arange(len(block)), train_y[nearest[:, rank]]), 1.0 + 1e-3 * (k - rank))
        correct += int((votes.argmax(axis=1) == test_y[start:start + chunk]).sum())
    return correct / len(test_x)


def nearest(train_x, test_x, k: int = 5) -> np.ndarray:
    """The indices of the ``k`` nearest training features of each test feature, nearest first."""
    train_x, test_x = standardize(np.asarray(train_x, np.float32), np.asarray(test_x, np.float32))
    distances = (train_x ** 2).sum(axis=1)[None, :] - 2.0 * test_x @ train_x.T
    return np.argsort(distances, axis=1)[:, :k]


def pca(train: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the first ``width`` principal axes of ``train`` (rows are samples)."""
    train = np.asarray(train, np.float64)
    mean = train.mean(axis=0)
    centred = train - mean
    values, vectors = np.linalg.eigh(centred.T @ centred)
    axes = vectors[:, ::-1][:, :width].T
    return mean, axes


def project(features: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    return ((np.asarray(features, np.float64) - mean) @ axes.T).astype(np.float32)


def probe_report(model, data, train_limit: int | None = None, test_limit: int | None = None, k: int = 5,
                 seed: int = 0, epochs: int = 30, pixels: bool = True) -> dict[str, Any]:
    """Linear-probe and k-NN test accuracy of the model's codes and (with ``pixels``) of the
    raw pixels and of a PCA of the pixels as wide as the code, on a labelled :class:`ImageData`.

    Raises:
        DataError: The data have no labels (with the reason), or images of several sizes.
    """
    if not data.labelled:
        raise DataError(data.unlabelled or f"{data.name} has no labels to probe the codes with")
    train, test = _images(data.train, train_limit), _images(data.test, test_limit)
    train_y, test_y = data.train_labels[:len(train)], data.test_labels[:len(test)]
    codes_train, codes_test = embed(model, train), embed(model, test)
    width = codes_train.shape[1]
    features = {f"codes ({width})": (codes_train, codes_test)}
    if pixels:
        pixels_train, pixels_test = (_unit(x).reshape(len(x), -1) for x in (train, test))
        mean, axes = pca(pixels_train, width)
        features[f"pixels ({pixels_train.shape[1]})"] = (pixels_train, pixels_test)
        features[f"PCA of the pixels ({width})"] = (project(pixels_train, mean, axes), project(pixels_test, mean, axes))
    classes = len(data.class_names)
    rows = []
    for name, (train_x, test_x) in features.items():
        rows.append({"features": name, "width": int(train_x.shape[1]),
                     "linear_probe": linear_probe(train_x, train_y, test_x, test_y, classes, seed, epochs),
                     "knn": knn_accuracy(train_x, train_y, test_x, test_y, k)})
    return {"data": data.name, "train": len(train), "test": len(test), "classes": list(data.class_names), "k": k,
            "chance": float(np.max(np.bincount(test_y, minlength=classes)) / len(test_y)), "rows": rows,
            "codes": (codes_train, codes_test), "images": (train, test), "labels": (train_y, test_y)}


def _images(images, limit: int | None) -> np.ndarray:
    from daekit.data.folder import ImageList

    if isinstance(images, ImageList):
        shapes = set(images.shapes[: limit or None])
        if len(shapes) > 1:
            raise DataError(f"the probe compares pixels too, so the images must share one size; these come in "
                            f"{len(shapes)} sizes (give --resize SIDE)")
        count = min(limit or len(images), len(images))
        return np.stack([np.asarray(images[i]) for i in range(count)])
    return images[:limit] if limit else images


def code_map_figure(codes: np.ndarray, labels: np.ndarray, class_names, method: str = "pca", seed: int = 0):
    """A 2-D map of codes coloured by class: PCA, or t-SNE (scikit-learn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scaled = standardize(codes, codes)[0]
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise ConfigError("--map tsne needs scikit-learn: pip install 'daekit[tsne]'") from None
        points = TSNE(2, random_state=seed, init="pca").fit_transform(scaled)
    else:
        points = project(scaled, *pca(scaled, 2))
    figure, axis = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for index, name in enumerate(class_names):
        chosen = labels == index
        axis.scatter(points[chosen, 0], points[chosen, 1], s=4, color=colours(index % colours.N), label=name, alpha=0.7)
    axis.set_title(f"test codes, {'t-SNE' if method == 'tsne' else 'first two principal components'}")
    axis.legend(markerscale=3, fontsize=8, loc="best")
    axis.set_xticks([])
    axis.set_yticks([])
    figure.tight_layout()
    return figure


def retrieval_figure(queries: np.ndarray, neighbours: np.ndarray, query_labels, neighbour_labels, class_names):
    """Each query image (first column) and its nearest training images by code."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, k = neighbours.shape[:2]
    figure, axes = plt.subplots(rows, k + 1, figsize=(1.3 * (k + 1), 1.4 * rows), squeeze=False)
    for row in range(rows):
        for column in range(k + 1):
            image = queries[row] if column == 0 else neighbours[row, column - 1]
            label = query_labels[row] if column == 0 else neighbour_labels[row, column - 1]
            axis = axes[row, column]
            axis.imshow(_unit(image).squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            colour = "black" if column == 0 or label == query_labels[row] else "red"
            axis.set_title(class_names[label], fontsize=7, color=colour)
    axes[0, 0].set_ylabel("query", fontsize=8)
    figure.suptitle("nearest training images by code (red: another class)", fontsize=9)
    figure.tight_layout()
    return figure
