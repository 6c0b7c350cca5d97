"""Image folders (``lra/image`` with ``dataset="folder"``): the same tensors as the equivalent IDX files, RGB,
JPEG within tolerance, and errors that name the file or class."""

import numpy as np
import pytest
import torch

from PIL import Image as PIL_Image

from ssmem.data import build_task
from ssmem.data._errors import DataNotFoundError, MalformedDataError
from ssmem.data.cifar import to_gray
from ssmem.data.image import ImageParams
from ssmem.data.image_folder import class_names, read_split
from ssmem.train import load_recipe, read_metrics, train

from .test_image import idx_bytes

CLASSES = ("ant", "bee", "cat")  # sorted: labels 0, 1, 2


def smooth_images(rng, n, rows=6, cols=5, channels=None):
    """uint8 images ``(n, rows, cols[, channels])`` that JPEG keeps close: a random plane plus a little noise."""
    shape = (n, 1, 1, channels or 1)
    r, c = np.arange(rows)[None, :, None, None], np.arange(cols)[None, None, :, None]
    planes = rng.uniform(60, 190, shape) + rng.uniform(-12, 12, shape) * r + rng.uniform(-12, 12, shape) * c
    images = np.clip(np.rint(planes + rng.normal(0, 2, size=planes.shape)), 0, 255).astype(np.uint8)
    return images if channels else images[..., 0]


def write_folder(root, images, labels, split, ext="png", **save):
    """Image ``i`` (of class ``labels[i]``) as ``root/split/<class>/<i>.ext``; zero-padded names keep file order."""
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / split / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        PIL_Image.fromarray(image).save(folder / f"{i:04d}.{ext}", **save)


def write_release(tmp_path, rng, n_train=24, n_test=9):
    """The same grayscale images as IDX files (``tmp_path/mnist``) and as PNG class folders (``tmp_path/folder``);
    labels sorted so that the class-by-class file order is the IDX order."""
    arrays = {}
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = smooth_images(rng, n)
        labels = np.sort(np.arange(n) % len(CLASSES)).astype(np.uint8)
        arrays[split] = images, labels
        (tmp_path / "mnist").mkdir(exist_ok=True)
        (tmp_path / "mnist" / f"{stem}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (tmp_path / "mnist" / f"{stem}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
        write_folder(tmp_path / "folder", images, labels, split)
    return arrays


def items(dataset):
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(xs), torch.stack(ys)


@pytest.mark.parametrize("permuted", [False, True])
def test_png_folder_gives_the_idx_tensors(tmp_path, rng, permuted):
    write_release(tmp_path, rng)
    common = dict(n_val=6, permuted=permuted)
    from_idx = build_task("lra/image", ImageParams(dataset="mnist", release_dir=str(tmp_path / "mnist"), **common))
    from_png = build_task("lra/image", ImageParams(dataset="folder", release_dir=str(tmp_path / "folder"), **common))
    for split in ("train", "val", "test"):
        (xi, yi), (xp, yp) = items(getattr(from_idx, split)), items(getattr(from_png, split))
        assert torch.equal(xi, xp) and torch.equal(yi, yp)
    assert from_png.info.seq_len == 30 and from_png.info.d_output == 3 and from_png.info.d_input == 1
    assert from_png.info.extra["classes"] == list(CLASSES)


def test_jpeg_folder_within_tolerance(tmp_path, rng):
    images = smooth_images(rng, 6, rows=16, cols=16)
    labels = np.array([0, 0, 1, 1, 2, 2])
    for split in ("train", "test"):
        write_folder(tmp_path, images, labels, split, ext="jpg", quality=95)
    read, got_labels = read_split(tmp_path, "train", list(CLASSES), color="gray", image_size=0)
    assert np.array_equal(got_labels, labels) and read.shape == images.shape
    assert np.abs(read.astype(int) - images.astype(int)).mean() < 3.0


def test_rgb_folder_keeps_three_channels_and_gray_is_the_luma(tmp_path, rng):
    images = smooth_images(rng, 6, channels=3)
    labels = np.array([0, 1, 2, 0, 1, 2])
    for split in ("train", "test"):
        write_folder(tmp_path, images, labels, split)
    rgb = build_task("lra/image", ImageParams(dataset="folder", color="rgb", n_val=1, release_dir=str(tmp_path)))
    x, _ = rgb.test[0]  # test file 0000.png: class ant, image 0
    mean, std = rgb.info.extra["pixel_mean"], rgb.info.extra["pixel_std"]
    assert x.shape == (30, 3) and rgb.info.d_input == 3
    assert torch.allclose(x, torch.from_numpy((images[0].reshape(30, 3) / 255 - mean) / std).float(), atol=1e-6)
    gray, _ = read_split(tmp_path, "test", list(CLASSES), color="gray", image_size=0)
    order = np.argsort(labels, kind="stable")  # files are read class by class
    assert np.array_equal(gray, to_gray(images[order]))


def test_resize_only_when_asked(tmp_path, rng):
    write_folder(tmp_path, [smooth_images(rng, 1, 6, 5)[0], smooth_images(rng, 1, 7, 7)[0], smooth_images(rng, 1)[0]],
                 [0, 1, 2], "train")
    write_folder(tmp_path, smooth_images(rng, 3), [0, 1, 2], "test")
    with pytest.raises(MalformedDataError, match=r"0001\.png.*image_size"):
        build_task("lra/image", ImageParams(dataset="folder", n_val=1, release_dir=str(tmp_path)))
    data = build_task("lra/image", ImageParams(dataset="folder", n_val=1, image_size=4, release_dir=str(tmp_path)))
    assert data.info.seq_len == 16 and data.train[0][0].shape == (16, 1)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_truncated_file_is_named(tmp_path, rng, ext):
    images = smooth_images(rng, 3, rows=16, cols=16)
    for split in ("train", "test"):
        write_folder(tmp_path, images, [0, 1, 2], split, ext=ext)
    victim = tmp_path / "train" / "bee" / f"0001.{ext}"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(MalformedDataError, match=rf"bee/0001\.{ext}"):
        build_task("lra/image", ImageParams(dataset="folder", n_val=1, release_dir=str(tmp_path)))


def test_class_missing_from_a_split_is_named(tmp_path, rng):
    images = smooth_images(rng, 3)
    write_folder(tmp_path, images, [0, 1, 2], "train")
    write_folder(tmp_path, images[:2], [0, 1], "test")
    with pytest.raises(DataNotFoundError, match="cat of train/ missing from test/"):
        class_names(tmp_path)


def test_options_of_other_data_sets_are_refused():
    with pytest.raises(ValueError, match="dataset='folder' only"):
        ImageParams(dataset="mnist", color="rgb")


def test_image_cpu_recipe_trains_on_a_folder(tmp_path, rng):
    write_release(tmp_path, rng)
    cfg = load_recipe("lra/image-cpu", [
        "task.params.dataset=folder", f"task.params.release_dir={tmp_path / 'folder'}", "task.params.n_val=6",
        "train.max_steps=4", "train.batch_size=6", "train.eval_every=2", "train.log_every=2", "optim.warmup_steps=0",
    ])
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.status == "completed" and result.steps == 4
    rows = read_metrics(tmp_path / "run")
    assert [(r["step"], r["split"]) for r in rows if r["split"] != "test"] == [(2, "train"), (2, "val"), (4, "train"), (4, "val")]
    assert result.test_metric * 9 == pytest.approx(round(result.test_metric * 9))  # accuracy over the 9 test images
