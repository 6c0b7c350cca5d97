"""Pathfinder and Path-X (Linsley et al. 2018, as used by the Long Range Arena): generator and release reader.

An image shows several dashed, smoothly curving contours and two square markers; the label is 1 when both
markers sit on the ends of the same contour. Every image holds two *main* contours of ``contour_length``
dashes and ``n_distractors`` shorter ones; a positive marks both ends of main contour 0, a negative the start
of main contour 0 and the end of main contour 1, so the two classes differ only in which ends are marked.

Geometry (``s = resolution / 32``): dashes of ``1.5 s`` pixels separated by gaps of ``1.25 s`` pixels, each
dash turning by a uniform angle in ``[-max_turn, max_turn]`` (wider, only where a contour must steer
around an obstacle or the border); markers are squares of half-width
``max(1, round(0.75 s))``. Contours never come close: every pixel of one contour is at Chebyshev distance at
least ``link_distance + 1`` from every pixel of another, while consecutive dashes of one contour are at
most ``link_distance = floor(1.25 s) + 1`` apart. Hence linking ink pixels that are at most
``link_distance`` apart recovers the contours exactly, and the label is a connectivity fact of the drawn
image (the tests check it that way).

Release layout: ``pathfinder<res>/curv_contour_length_<n>/metadata/<i>.npy`` (text lines
``imgs/<i> sample_<j>.png <x> <label> ...``) and ``imgs/<i>/sample_<j>.png``; split 80/10/10 by a
permutation drawn with ``torch.randperm`` seeded 42.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import maximum_filter

from ._cache import cached, file_fingerprint
from ._checks import check_at_least, check_choice, check_drawn_sizes, check_subsets
from ._datasets import PixelDataset, pixel_stats, majority_chance
from ._params import CacheParams, ReleaseParams, SplitSizeParams
from ._progress import item_bar
from ._errors import DataNotFoundError, MalformedDataError
from ._sources import Availability, candidate_dirs, data_seed_of, first_dir_with, register_availability
from .task import SPLITS, TaskData, TaskInfo, register_task

RESOLUTIONS = (32, 64, 128)
SOURCES = ("generate", "release")
INK = 255


@dataclass(frozen=True)
class Geometry:
    """Pixel sizes of one resolution."""

    resolution: int
    dash: float
    gap: float
    marker_radius: int
    max_turn: float

    @property
    def link_distance(self) -> int:
        """Consecutive dashes of a contour are at most this far apart (Chebyshev, in pixels)."""
        return int(math.floor(self.gap)) + 1


def geometry(resolution: int, max_turn_degrees: float = 30.0) -> Geometry:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"Pathfinder resolution {resolution} is not one of {RESOLUTIONS}")
    s = resolution / 32
    return Geometry(resolution, 1.5 * s, 1.25 * s, max(1, round(0.75 * s)), math.radians(max_turn_degrees))


@dataclass(frozen=True)
class PathfinderSample:
    """One drawn image: ``image`` uint8 ``(R, R)``, ``label`` (1 = markers connected), marker centres ``(2, 2)`` (row, col)."""

    image: np.ndarray
    label: int
    markers: np.ndarray


def _segment_pixels(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Integer pixels (row, col) on the segment p→q, sampled every quarter pixel (with repeats): ``(n, 2)``."""
    n = max(2, int(math.ceil(4 * np.abs(q - p).max())) + 1)
    points = p[None, :] + (np.arange(n) / (n - 1))[:, None] * (q - p)[None, :]
    return np.rint(points).astype(np.int64)  # repeated pixels are harmless


def _square(centre: np.ndarray, radius: int) -> np.ndarray:
    """Pixels of the square of half-width ``radius`` around ``centre``: ``(n, 2)``."""
    r = np.arange(-radius, radius + 1)
    grid = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
    return np.rint(centre).astype(np.int64)[None, :] + grid


class _Canvas:
    """Which contour claims the neighbourhood of each pixel, to keep contours ``k + 1`` pixels apart.

    ``zone[r, c]`` is -1 when no contour is within Chebyshev distance ``k`` of the pixel, the contour's id
    when exactly one is, and -2 when several are.
    """

    def __init__(self, resolution: int, link_distance: int) -> None:
        self.zone = np.full((resolution, resolution), -1, dtype=np.int32)
        self.k = link_distance
        self.resolution = resolution

    def free(self, pixels: np.ndarray, contour: int, border: int = 0) -> bool:
        """All ``pixels`` are inside the image (``border`` from the edge) and no other contour is within ``k``."""
        if pixels.min() < border or pixels.max() > self.resolution - 1 - border:
            return False
        zone = self.zone[pixels[:, 0], pixels[:, 1]]
        return bool(((zone == -1) | (zone == contour)).all())

    def claim(self, pixels: np.ndarray, contour: int) -> None:
        k, res = self.k, self.resolution
        lo = pixels.min(axis=0) - k  # (2,) corner of the box holding the k-neighbourhood of the pixels
        hi = pixels.max(axis=0) + k + 1
        mask = np.zeros(tuple(hi - lo), dtype=bool)
        mask[pixels[:, 0] - lo[0], pixels[:, 1] - lo[1]] = True
        near = maximum_filter(mask, size=2 * k + 1, mode="constant")
        r0, c0 = max(lo[0], 0), max(lo[1], 0)
        r1, c1 = min(hi[0], res), min(hi[1], res)
        near = near[r0 - lo[0] : r1 - lo[0], c0 - lo[1] : c1 - lo[1]]
        window = self.zone[r0:r1, c0:c1]
        window[near & (window != -1) & (window != contour)] = -2
        window[near & (window == -1)] = contour


def _draw_contour(canvas: _Canvas, rng: np.random.Generator, contour: int, n_dashes: int, geo: Geometry, central: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Try to place one contour; returns its dash pixels and its two end points, or None (nothing claimed)."""
    res = geo.resolution
    margin = geo.marker_radius + 1
    if central:  # main contours start in the central half, with room to run in every direction
        start = rng.uniform(max(margin, res / 4), min(res - 1 - margin, 3 * res / 4), size=2)
    else:
        start = rng.uniform(margin, res - 1 - margin, size=2)
    heading = rng.uniform(0.0, 2 * math.pi)
    placed: list[np.ndarray] = []
    point = start
    before = canvas.zone.copy()  # restored if the contour cannot be completed
    start_marker = _square(start, geo.marker_radius)
    if not canvas.free(start_marker, contour, border=0):
        return None
    for i in range(n_dashes):
        for attempt in range(16):
            # the first tries keep the contour smooth; later ones turn harder to steer around an obstacle
            limit = min(math.pi, geo.max_turn * (1 + max(0, attempt - 3) / 2))
            turn = rng.uniform(-limit, limit)
            direction = np.array([math.sin(heading + turn), math.cos(heading + turn)])
            begin = point if i == 0 else point + geo.gap * direction
            end = begin + geo.dash * direction
            pixels = _segment_pixels(begin, end)
            if canvas.free(pixels, contour, border=geo.marker_radius):
                break
        else:
            canvas.zone = before
            return None
        heading += turn
        canvas.claim(pixels, contour)
        placed.append(pixels)
        point = end
    end_marker = _square(point, geo.marker_radius)
    if not canvas.free(end_marker, contour):
        canvas.zone = before
        return None
    # both ends reserve their marker squares, drawn or not, so marking an end never breaks the separation
    canvas.claim(start_marker, contour)
    canvas.claim(end_marker, contour)
    return np.concatenate(placed), start, point


def draw_sample(
    rng: np.random.Generator,
    label: int,
    *,
    resolution: int = 32,
    contour_length: int = 14,
    n_distractors: int = 3,
    distractor_length: int = 4,
    max_turn_degrees: float = 30.0,
    max_tries: int = 200,
) -> PathfinderSample:
    """Draw one Pathfinder image with the given ``label`` (1: markers on one contour, 0: on two)."""
    geo = geometry(resolution, max_turn_degrees)
    lengths = [contour_length, contour_length] + [distractor_length] * n_distractors
    for _ in range(max_tries):
        canvas = _Canvas(resolution, geo.link_distance)
        contours = []
        for idx, n_dashes in enumerate(lengths):
            for _retry in range(20):
                drawn = _draw_contour(canvas, rng, idx, n_dashes, geo, central=idx < 2)
                if drawn is not None:
                    break
            else:
                break
            contours.append(drawn)
        if len(contours) < len(lengths):
            continue
        image = np.zeros((resolution, resolution), dtype=np.uint8)
        for pixels, _, _ in contours:
            image[pixels[:, 0], pixels[:, 1]] = INK
        (_, a0, a1), (_, _, b1) = contours[0], contours[1]
        # both classes mark one contour start (central half) and one contour end: position is no cue
        markers = np.stack([a0, a1]) if label == 1 else np.stack([a0, b1])
        for centre in markers:
            square = _square(centre, geo.marker_radius)
            image[square[:, 0], square[:, 1]] = INK
        return PathfinderSample(image, int(label), np.rint(markers).astype(np.int64))
    raise ValueError(  # the parameters' fault: named as a bad value
        f"could not place {len(lengths)} contours on a {resolution}x{resolution} image in {max_tries} tries; "
        f"lower n_distractors ({n_distractors}), distractor_length or contour_length ({contour_length})"
    )


@dataclass
class PathfinderParams(SplitSizeParams, ReleaseParams, CacheParams):
    """Pathfinder (``resolution`` 32 or 64) / Path-X (128): generator difficulty, sizes, release location.

    Difficulty grows with ``contour_length`` (dashes per main contour; LRA uses 14) and ``n_distractors``.
    ``source="release"`` reads ``pathfinder<res>/curv_contour_length_<contour_length>`` under
    ``release_dir``/``data_dir``/``$SSMEM_DATA``; its 80/10/10 split is fixed (seed 42), and ``n_*`` > 0
    keep the first rows of each split. ``workers`` processes draw images in parallel (0 = one per CPU); the
    images do not depend on it.
    """

    source: str = "generate"
    resolution: int = 32
    contour_length: int = 14
    n_distractors: int = 3
    distractor_length: int = 4
    max_turn_degrees: float = 30.0
    n_train: int = 160000
    n_val: int = 20000
    n_test: int = 20000
    workers: int = 1

    def __post_init__(self) -> None:
        check_choice(self, "source", SOURCES)
        check_choice(self, "resolution", RESOLUTIONS)
        check_at_least(self, 1, "contour_length", "distractor_length")
        check_at_least(self, 0, "n_distractors", "max_turn_degrees", "workers")
        if self.max_turn_degrees > 180:
            raise ValueError(f"max_turn_degrees must lie in [0, 180], got {self.max_turn_degrees!r}")
        check_subsets(self)
        if self.source == "generate":
            check_drawn_sizes(self, "source='generate'")


@dataclass
class PathXParams(PathfinderParams):
    """Path-X: Pathfinder at 128 x 128 (L = 16384), with more distractors to fill the larger image."""

    resolution: int = 128
    n_distractors: int = 6


BLOCK = 500  # images drawn from one seed; blocks are independent, so workers never change the data


def _generate_block(task: tuple[int, tuple[int, ...], PathfinderParams]) -> tuple[np.ndarray, np.ndarray]:
    n, entropy, params = task
    rng = np.random.default_rng(entropy)
    labels = np.zeros(n, dtype=np.int64)
    labels[: (n + 1) // 2] = 1
    rng.shuffle(labels)
    images = np.empty((n, params.resolution, params.resolution), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i] = draw_sample(
            rng,
            int(label),
            resolution=params.resolution,
            contour_length=params.contour_length,
            n_distractors=params.n_distractors,
            distractor_length=params.distractor_length,
            max_turn_degrees=params.max_turn_degrees,
        ).image
    return images, labels


def generate_images(n: int, params: PathfinderParams, *, seed: int, stream: int = 0, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``uint8 (n, R, R)`` and labels ``(n,)``; every block of 500 is exactly half positive.

    Block ``b`` is drawn from the seed ``(seed, stream, b)``, so the result does not depend on ``workers``
    (processes drawing blocks in parallel; 0 = one per CPU).
    """
    tasks = [(min(BLOCK, n - start), (seed, stream, b), params) for b, start in enumerate(range(0, n, BLOCK))]
    workers = workers if workers > 0 else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    blocks = []
    with item_bar(n, f"pathfinder {params.resolution}px images", "img") as bar:
        if workers > 1 and len(tasks) > 1:
            import multiprocessing

            with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
                for block in pool.imap(_generate_block, tasks):  # in order, as they finish
                    blocks.append(block)
                    bar.update(len(block[1]))
        else:
            for task in tasks:
                blocks.append(_generate_block(task))
                bar.update(task[0])
    if not blocks:
        return np.zeros((0, params.resolution, params.resolution), np.uint8), np.zeros(0, np.int64)
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


_OBTAIN = (
    "the Long Range Arena release (lra_release/pathfinder32, pathfinder64, pathfinder128); or use "
    "source='generate', which draws the images with ssmem's generator."
)


def _layout(params: PathfinderParams) -> str:
    return (
        f"  <dir>/metadata/<i>.npy  (text lines: imgs/<i> sample_<j>.png <x> <label> ...)\n"
        f"  <dir>/imgs/<i>/sample_<j>.png  ({params.resolution}x{params.resolution} grayscale)\n"
        f"  with <dir> = pathfinder{params.resolution}/curv_contour_length_{params.contour_length}"
    )


def _release_dir(params: PathfinderParams, data_dir: Path | None) -> Path:
    sub = f"pathfinder{params.resolution}/curv_contour_length_{params.contour_length}"
    candidates = candidate_dirs(params.release_dir, data_dir, sub)
    found = first_dir_with(candidates, lambda d: any((d / "metadata").glob("*.npy")))
    if found is None:
        raise DataNotFoundError(f"Pathfinder release ({params.resolution}px)", candidates, _layout(params), _OBTAIN)
    return found


def _metadata_files(root: Path) -> list[Path]:
    def order(path: Path) -> tuple[int, str]:
        return (int(path.stem), "") if path.stem.isdigit() else (1 << 62, path.stem)

    return sorted((root / "metadata").glob("*.npy"), key=order)


def read_release_index(root: Path) -> tuple[list[Path], np.ndarray]:
    """Image paths and labels listed by the metadata files under ``root``, in file order."""
    paths, labels = [], []
    for meta in _metadata_files(root):
        for line_no, line in enumerate(meta.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 4 or not re.fullmatch(r"-?\d+", parts[3]):
                raise MalformedDataError(meta, f"line {line_no}: expected 'imgs/<i> sample_<j>.png <x> <label> ...', got {line!r}")
            label = int(parts[3])
            if label not in (0, 1):
                raise MalformedDataError(meta, f"line {line_no}: label {label} is not 0 or 1")
            paths.append(root / parts[0] / parts[1])
            labels.append(label)
    if not paths:
        raise MalformedDataError(root / "metadata", "the metadata files list no images")
    return paths, np.asarray(labels, dtype=np.int64)


def release_split(n: int) -> dict[str, np.ndarray]:
    """The release's 80/10/10 split of ``n`` items: a ``torch.randperm`` seeded 42, cut in that order."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(42)).numpy()
    n_train, n_val = int(0.8 * n), int(0.1 * n)
    return {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}


def read_png(path: Path, resolution: int) -> np.ndarray:
    """A grayscale PNG as uint8 ``(R, R)``; a clear error if it is missing, unreadable or the wrong size."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise MalformedDataError(path, "listed in the metadata but missing")
    try:
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise MalformedDataError(path, f"not a readable image ({err})") from None
    if pixels.shape != (resolution, resolution):
        raise MalformedDataError(path, f"image is {pixels.shape[1]}x{pixels.shape[0]}, expected {resolution}x{resolution}")
    return pixels


def _build_arrays(params: PathfinderParams, data_seed: int, data_dir: Path | None) -> dict[str, np.ndarray]:
    arrays = {}
    if params.source == "release":
        paths, labels = read_release_index(_release_dir(params, data_dir))
        for split, idx in release_split(len(paths)).items():
            limit = getattr(params, f"n_{split}")
            idx = idx[:limit] if limit else idx
            arrays[f"{split}_x"] = np.stack([read_png(paths[i], params.resolution) for i in idx]) if len(idx) else np.zeros((0, params.resolution, params.resolution), np.uint8)
            arrays[f"{split}_y"] = labels[idx]
        return arrays
    for stream, split in enumerate(SPLITS):
        arrays[f"{split}_x"], arrays[f"{split}_y"] = generate_images(getattr(params, f"n_{split}"), params, seed=data_seed, stream=stream, workers=params.workers)
    return arrays


def _build(name: str, params: PathfinderParams, seed: int, data_dir: Path | None) -> TaskData:
    data_seed = data_seed_of(params, seed)
    extra = None
    if params.source == "release":
        root = _release_dir(params, data_dir)
        images = [root / "imgs"] if (root / "imgs").is_dir() else []
        extra = file_fingerprint([*_metadata_files(root), *images])  # the listings and every image
    arrays = cached(name, params, data_seed, lambda: _build_arrays(params, data_seed, data_dir), extra=extra)
    mean, std = pixel_stats(arrays["train_x"])
    splits = {s: PixelDataset(arrays[f"{s}_x"], arrays[f"{s}_y"], mean=mean, std=std) for s in SPLITS}
    info = TaskInfo(
        objective="classification",
        seq_len=params.resolution**2,
        d_output=2,
        d_input=1,
        chance=majority_chance(arrays["train_y"], arrays["test_y"]),
        extra={"resolution": params.resolution, "pixel_mean": mean, "pixel_std": std, "source": params.source},
    )
    return TaskData(info=info, **splits)


def pathfinder_info(params: PathfinderParams) -> TaskInfo:
    """What a model needs to know, without drawing or reading images (``chance`` unknown: None)."""
    return TaskInfo(objective="classification", seq_len=params.resolution**2, d_output=2, d_input=1, extra={"resolution": params.resolution, "source": params.source})


@register_task("lra/pathfinder", PathfinderParams, "Pathfinder: are the two markers on one dashed contour? (32x32, L = 1024)", info=pathfinder_info)
def build_pathfinder(params: PathfinderParams, *, seed: int, data_dir: Path | None) -> TaskData:
    return _build("lra/pathfinder", params, seed, data_dir)


@register_task("lra/pathx", PathXParams, "Path-X: Pathfinder at 128x128 (L = 16384)", info=pathfinder_info)
def build_pathx(params: PathfinderParams, *, seed: int, data_dir: Path | None) -> TaskData:
    return _build("lra/pathx", params, seed, data_dir)


def _available(params: PathfinderParams, data_dir: Path | None) -> Availability:
    if params.source != "release":
        return Availability(True, "generated by ssmem")
    try:
        return Availability(True, f"release at {_release_dir(params, data_dir)}")
    except DataNotFoundError:
        return Availability(False, "release not found; source='generate' needs no files")


register_availability("lra/pathfinder")(_available)
register_availability("lra/pathx")(_available)
