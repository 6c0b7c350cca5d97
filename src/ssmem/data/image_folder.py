"""Images stored as files, one folder per class: ``DIR/{train,test}/<class>/*.{png,jpg,jpeg,bmp}``.

Classes are the sub-folder names of ``train/``, sorted by name (class k = the k-th name); ``test/`` must hold the
same classes. Files are decoded with Pillow. Grayscale images keep their
values; colour images become the ITU-R 601 luma (as CIFAR-10 does) unless ``color="rgb"``. Every image must have
one size unless ``image_size`` resizes them (bilinear) to ``image_size x image_size``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ._errors import DataNotFoundError, MalformedDataError
from .cifar import to_gray

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
COLORS = ("gray", "rgb")
FOLDER_SPLITS = ("train", "test")
LAYOUT = "  <dir>/train/<class>/*.png|jpg|jpeg|bmp and <dir>/test/<class>/...  (one folder per class, same classes in both)"
OBTAIN = "any image files sorted into one folder per class; point release_dir at the folder holding train/ and test/"


def is_image_folder(folder: Path) -> bool:
    """Whether ``folder`` has the ``train/`` and ``test/`` sub-folders of an image-folder release."""
    return all((folder / split).is_dir() for split in FOLDER_SPLITS)


def class_names(folder: Path) -> list[str]:
    """The class names (sub-folders of ``folder/train``, sorted); a class missing from ``test/`` (or one only
    ``test/`` has) is a :class:`DataNotFoundError` naming it."""
    per_split = {s: sorted(p.name for p in (folder / s).iterdir() if p.is_dir()) for s in FOLDER_SPLITS}
    if not per_split["train"]:
        raise DataNotFoundError(f"image folder {folder}: no class folders in train/", folder, LAYOUT, OBTAIN)
    for split, other in (("test", "train"), ("train", "test")):
        missing = sorted(set(per_split[other]) - set(per_split[split]))
        if missing:
            raise DataNotFoundError(f"image folder {folder}: class(es) {', '.join(missing)} of {other}/ missing from "
                                    f"{split}/", folder / split, LAYOUT, OBTAIN)
    return per_split["train"]


def image_files(folder: Path, split: str, classes: list[str]) -> tuple[list[Path], np.ndarray]:
    """The image files of one split in a fixed order (class by class, files sorted by name) and their labels."""
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (folder / split / name).iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
        if not found:
            raise DataNotFoundError(f"image folder {folder}: class {name!r} has no image files in {split}/",
                                    folder / split / name, LAYOUT, OBTAIN)
        files += found
        labels += [label] * len(found)
    return files, np.asarray(labels, dtype=np.int64)


def first_image_size(folder: Path) -> tuple[int, int] | None:
    """(rows, cols) of the first training image, read from its header only; None when it cannot be read."""
    try:
        files, _ = image_files(folder, "train", class_names(folder))
        with Image.open(files[0]) as image:
            cols, rows = image.size
    except (OSError, ValueError, SyntaxError, IndexError):
        return None
    return rows, cols


def read_image(path: Path, *, color: str, image_size: int) -> np.ndarray:
    """One image file as uint8 ``(rows, cols)`` (gray) or ``(rows, cols, 3)`` (rgb); a file Pillow cannot decode
    in full (truncated, damaged, not an image) is a :class:`MalformedDataError` naming it."""
    try:
        with Image.open(path) as image:
            image.load()  # decodes now: a truncated file fails here, not in a later conversion
            gray_stored = image.mode in ("L", "1")
            image = image.convert("L" if gray_stored else "RGB")
            if image_size:
                image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as err:  # Pillow's UnidentifiedImageError is an OSError
        raise MalformedDataError(path, f"not a readable image ({err})") from None
    if color == "rgb":
        return np.repeat(pixels[..., None], 3, axis=-1) if pixels.ndim == 2 else pixels
    return pixels if pixels.ndim == 2 else to_gray(pixels)


def read_split(folder: Path, split: str, classes: list[str], *, color: str, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``(n, rows, cols[, 3])`` and labels int64 ``(n,)`` of ``folder/split``; images of another
    size than the first are named (resizing is never implicit)."""
    files, labels = image_files(folder, split, classes)
    images = []
    for path in files:
        pixels = read_image(path, color=color, image_size=image_size)
        if images and pixels.shape != images[0].shape:
            raise MalformedDataError(path, f"is {pixels.shape[1]}x{pixels.shape[0]} pixels, {files[0].name} "
                                           f"{images[0].shape[1]}x{images[0].shape[0]}: set image_size=N to resize all to N x N")
        images.append(pixels)
    return np.stack(images), labels
