import math

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ssmem.data import build_task
from ssmem.data._errors import DataNotFoundError, MalformedDataError
from ssmem.data.pathfinder import PathfinderParams, draw_sample, generate_images, release_split


def components(image: np.ndarray, link: int) -> np.ndarray:
    """Component id of every pixel (-1 = background), linking ink pixels at Chebyshev distance <= link."""
    points = np.argwhere(image > 0)
    pairs = np.array(sorted(cKDTree(points).query_pairs(link, p=np.inf)), dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(points), len(points)))
    _, label = connected_components(graph, directed=False)
    out = np.full(image.shape, -1)
    out[points[:, 0], points[:, 1]] = label
    return out


@pytest.mark.parametrize("resolution,n", [(32, 40), (64, 12), (128, 8)])
def test_labels_agree_with_a_connectivity_check_of_the_image(resolution, n):
    rng = np.random.default_rng(resolution)
    # consecutive dashes are at most floor(gap) + 1 pixels apart, with the gap 1.25 px at 32 px, scaled
    link = math.floor(1.25 * resolution / 32) + 1
    n_contours = []
    for i in range(n):
        sample = draw_sample(rng, i % 2, resolution=resolution, n_distractors=2 if resolution == 32 else 5)
        comp = components(sample.image, link)
        a, b = (comp[r, c] for r, c in sample.markers)
        assert a >= 0 and b >= 0
        assert int(a == b) == sample.label
        n_contours.append(len(np.unique(comp[comp >= 0])))
    # main contours, distractors: every contour is its own component, in both classes alike
    assert set(n_contours) == {2 + (2 if resolution == 32 else 5)}


def test_classes_are_balanced_and_pixels_do_not_give_the_label_away():
    images, labels = generate_images(40, PathfinderParams(n_distractors=2), seed=0)
    assert labels.sum() == 20
    ink = (images > 0).reshape(40, -1).sum(1)
    # the same contours are drawn in both classes: ink counts overlap heavily
    assert abs(ink[labels == 1].mean() - ink[labels == 0].mean()) < 0.15 * ink.mean()


def test_built_task_shapes_and_normalisation():
    params = PathfinderParams(n_train=10, n_val=4, n_test=4, n_distractors=2)
    data = build_task("lra/pathfinder", params, seed=0)
    assert data.info.seq_len == 1024 and data.info.d_input == 1 and data.info.d_output == 2
    x, y = data.train[0]
    assert x.shape == (1024, 1) and x.dtype.is_floating_point
    xs = np.stack([data.train[i][0].numpy() for i in range(len(data.train))])
    assert abs(xs.mean()) < 1e-5 and abs(xs.std() - 1) < 1e-4  # standardised with training statistics
    assert sorted(int(data.train[i][1]) for i in range(10)) == [0] * 5 + [1] * 5


def write_release(root, n, resolution=32):
    from PIL import Image

    (root / "metadata").mkdir(parents=True)
    (root / "imgs" / "0").mkdir(parents=True)
    lines = []
    for j in range(n):
        pixels = np.full((resolution, resolution), j, dtype=np.uint8)  # image j is filled with value j
        Image.fromarray(pixels).save(root / "imgs" / "0" / f"sample_{j}.png")
        lines.append(f"imgs/0 sample_{j}.png 0 {j % 2} 14 0")
    (root / "metadata" / "0.npy").write_text("\n".join(lines) + "\n")


def test_release_reader_and_split(tmp_path):
    root = tmp_path / "pathfinder32" / "curv_contour_length_14"
    write_release(root, 20)
    params = PathfinderParams(source="release", n_train=0, n_val=0, n_test=0)
    data = build_task("lra/pathfinder", params, data_dir=tmp_path)
    split = release_split(20)
    assert (len(data.train), len(data.val), len(data.test)) == (16, 2, 2)
    assert sorted(np.concatenate(list(split.values())).tolist()) == list(range(20))
    for name in ("train", "val", "test"):
        dataset = getattr(data, name)
        for k in range(len(dataset)):
            x, y = dataset[k]
            j = split[name][k]
            pixel = round(float(x[0, 0]) * data.info.extra["pixel_std"] * 255 + data.info.extra["pixel_mean"] * 255)
            assert pixel == j and int(y) == j % 2
    # a changed image (same listing) is read again, not served from the cache
    from PIL import Image

    Image.fromarray(np.full((32, 32), 255, dtype=np.uint8)).save(root / "imgs" / "0" / "sample_0.png")
    again = build_task("lra/pathfinder", params, data_dir=tmp_path)
    raw = {round(float(again.train[k][0][0, 0]) * again.info.extra["pixel_std"] * 255
                 + again.info.extra["pixel_mean"] * 255) for k in range(len(again.train))}
    assert 0 in split["train"] and 0 not in raw and 255 in raw


def test_release_missing_and_malformed(tmp_path):
    with pytest.raises(DataNotFoundError, match="metadata"):
        build_task("lra/pathfinder", PathfinderParams(source="release"), data_dir=tmp_path)
    root = tmp_path / "r"
    write_release(root, 4)
    (root / "imgs" / "0" / "sample_2.png").unlink()
    with pytest.raises(MalformedDataError, match="sample_2.png.*missing"):
        build_task("lra/pathfinder", PathfinderParams(source="release", release_dir=str(root)))
    (root / "imgs" / "0" / "sample_2.png").write_bytes(b"not a png")
    with pytest.raises(MalformedDataError, match="sample_2.png.*not a readable image"):
        build_task("lra/pathfinder", PathfinderParams(source="release", release_dir=str(root), cache=False))
    (root / "metadata" / "0.npy").write_text("imgs/0 sample_0.png\n")
    with pytest.raises(MalformedDataError, match="0.npy.*line 1"):
        build_task("lra/pathfinder", PathfinderParams(source="release", release_dir=str(root), cache=False))


def test_bad_resolution_is_named():
    with pytest.raises(ValueError, match="resolution 48 is not one of: 32, 64, 128"):
        build_task("lra/pathfinder", PathfinderParams(resolution=48, n_train=2, n_val=2, n_test=2))


def test_contours_that_cannot_be_placed_are_a_named_bad_value(capsys):
    """A parameter error, not a crash: the command line prints one line (exit 2)."""
    from ssmem.cli import main

    argv = ["data", "lra/pathfinder", "-p", "contour_length=100", "-p", "n_train=1", "-p", "n_val=1", "-p", "n_test=1",
            "--prepare", "--no-progress", "-p", "cache=false"]
    assert main(argv) == 2
    assert "could not place 5 contours on a 32x32 image" in capsys.readouterr().err


def test_parallel_generation_draws_the_same_images(monkeypatch):
    from ssmem.data import pathfinder

    monkeypatch.setattr(pathfinder, "BLOCK", 3)  # several blocks from few images
    params = PathfinderParams(n_distractors=1, contour_length=4)
    serial = generate_images(7, params, seed=5, workers=1)
    parallel = generate_images(7, params, seed=5, workers=2)
    assert np.array_equal(serial[0], parallel[0]) and np.array_equal(serial[1], parallel[1])
    assert serial[1][:3].sum() == 2 and serial[1][3:6].sum() == 2  # each block is balanced
