"""`ssmem validate` on IDX images that are not 28x28: L is rows x cols from the files' header."""

import gzip

import numpy as np
import pytest

from ssmem.cli import main
from ssmem.data import build_task
from ssmem.data._errors import MalformedDataError
from ssmem.data.idx import read_idx, read_idx_shape
from ssmem.data.image import ImageParams, image_info

ROWS, COLS = 12, 20


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def images(tmp_path):
    """A folder of MNIST-named IDX files of 12x20 images (the training images gzipped)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, size=(30, ROWS, COLS)),
        "train-labels-idx1-ubyte": np.arange(30) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(10, ROWS, COLS)),
        "t10k-labels-idx1-ubyte": np.arange(10) % 10,
    }
    for name, array in arrays.items():
        data = _idx(array)
        (folder / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return folder


def test_the_header_shape_is_the_shape_of_the_array(images):
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert read_idx_shape(images / name) == read_idx(images / name).shape
    bad = images / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04" + b"\0" * 12)
    with pytest.raises(MalformedDataError, match="bad magic"):
        read_idx_shape(bad)


def test_the_info_l_is_the_l_of_the_built_task(images):
    params = ImageParams(dataset="mnist", release_dir=str(images), cache=False)
    assert image_info(params).seq_len == build_task("lra/image", params).info.seq_len == ROWS * COLS
    by_data_dir = ImageParams(dataset="mnist", cache=False)
    assert image_info(by_data_dir, data_dir=images.parent).seq_len == ROWS * COLS


@pytest.mark.parametrize("where", ["release_dir", "data_dir"])
def test_validate_reports_the_real_l(images, where, capsys):
    place = f"task.params.release_dir={images}" if where == "release_dir" else f"task.data_dir={images.parent}"
    assert main(["validate", "lra/image-cpu", "task.params.dataset=mnist", place, "model.d_model=8"]) == 0
    task_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("task"))
    assert f"L = {ROWS * COLS}," in task_line


def test_without_files_l_is_the_usual_size(tmp_path, monkeypatch):
    monkeypatch.delenv("SSMEM_DATA", raising=False)
    assert image_info(ImageParams(dataset="mnist", release_dir=str(tmp_path))).seq_len == 28 * 28
