"""Raw-audio classification (``audio/wav``): a folder of WAV clips, labelled by sub-folder or by file name.

Layouts (``labels``):

* ``folder``: ``DIR/<label>/<speaker>_<index>.wav``;
* ``filename``: ``DIR/<label>_<speaker>_<index>.wav`` (the free spoken digit data set's pattern).

Each clip is made mono (channels averaged), resampled to ``sample_rate`` and cut to ``max_seconds``; the
sequence is the raw waveform, L = ``sample_rate * max_seconds``, shorter clips zero-padded at the end with their
true length kept (``dataset.lengths``: ``Classifier(x, lengths)`` keeps the padding out of the SSM state and the
pooling). Splits are speaker-disjoint: whole speakers are drawn (with the data seed) for the validation and test
splits, ``val_fraction`` and ``test_fraction`` of them. Waveforms are scaled by the training split's standard
deviation (over the true samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ._cache import cached, file_fingerprint
from ._checks import check_at_least, check_choice, check_split_fractions, check_subsets
from ._datasets import majority_chance
from ._errors import DataNotFoundError, MalformedDataError
from ._params import CacheParams, ReleaseParams, SplitSizeParams
from ._sources import Availability, candidate_dirs, data_seed_of, first_dir_with, register_availability, split_rng
from .task import SPLITS, TaskData, TaskInfo, register_task
from .wav import read_wav, resample, to_mono

LABELS = ("folder", "filename")
_LAYOUT = ("  <dir>/<label>/<speaker>_<index>.wav  (labels=folder), or\n"
           "  <dir>/<label>_<speaker>_<index>.wav  (labels=filename); PCM WAV, 8/16/24/32-bit, mono or stereo")
_OBTAIN = ("any WAV clips in one of these layouts; spoken digits can be made here with "
           "scripts/make_spoken_digits.py (Debian's espeak-ng); point release_dir at the folder")


@dataclass
class AudioParams(SplitSizeParams, ReleaseParams, CacheParams):
    """Where the clips are, how they are labelled, the common rate and length, and the speaker split."""

    labels: str = "folder"
    sample_rate: int = 8000
    max_seconds: float = 1.0
    val_fraction: float = 0.1
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        check_choice(self, "labels", LABELS)
        check_at_least(self, 1000, "sample_rate")
        check_at_least(self, 0.001, "max_seconds")
        if not isinstance(self.sample_rate, int):
            raise ValueError(f"sample_rate must be a whole number of Hz, got {self.sample_rate!r}")
        check_split_fractions(self)
        check_subsets(self)

    @property
    def seq_len(self) -> int:
        return int(round(self.sample_rate * self.max_seconds))


@dataclass(frozen=True)
class Clip:
    """One labelled clip: its file, class name and speaker."""

    path: Path
    label: str
    speaker: str


def find_clips(folder: Path, labels: str) -> list[Clip]:
    """The clips below ``folder`` in the ``labels`` layout, sorted by path; a file name that does not follow
    the layout is a :class:`MalformedDataError` naming it."""
    clips = []
    if labels == "folder":
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            for path in sorted(sub.glob("*.wav")):
                clips.append(Clip(path, sub.name, path.stem.split("_")[0]))
    else:
        for path in sorted(folder.glob("*.wav")):
            parts = path.stem.split("_")
            if len(parts) < 3:
                raise MalformedDataError(path, "labels=filename expects names <label>_<speaker>_<index>.wav")
            clips.append(Clip(path, parts[0], parts[1]))
    return clips


def _has_clips(folder: Path, labels: str) -> bool:
    try:
        return bool(find_clips(folder, labels))
    except (MalformedDataError, OSError):
        return True  # found: building names the bad file


def _folder(params: AudioParams, data_dir: Path | None) -> Path:
    candidates = candidate_dirs(params.release_dir, data_dir, "audio")
    found = first_dir_with(candidates, lambda d: _has_clips(d, params.labels))
    if found is None:
        raise DataNotFoundError(f"audio clips (labels={params.labels})", candidates, _LAYOUT, _OBTAIN)
    return found


def speaker_splits(speakers: list[str], params: AudioParams, data_seed: int) -> dict[str, list[str]]:
    """Disjoint speaker lists per split: ``val_fraction`` and ``test_fraction`` of the speakers (at least one
    each), drawn with the data seed; the rest train."""
    names = sorted(set(speakers))
    if len(names) < 3:
        raise ValueError(f"speaker-disjoint splits need at least 3 speakers, found {len(names)}: {names}")
    order = [names[i] for i in np.random.default_rng(data_seed).permutation(len(names))]
    n_test = max(1, round(params.test_fraction * len(names)))
    n_val = max(1, round(params.val_fraction * len(names)))
    if n_test + n_val >= len(names):
        raise ValueError(f"{len(names)} speakers leave none to train on after {n_val} for validation and {n_test} for test")
    return {"test": sorted(order[:n_test]), "val": sorted(order[n_test : n_test + n_val]),
            "train": sorted(order[n_test + n_val :])}


def load_clip(path: Path, *, sample_rate: int, seq_len: int) -> np.ndarray:
    """One clip as float32 ``(n,)``, mono, at ``sample_rate``, at most ``seq_len`` samples."""
    samples, rate = read_wav(path)
    return resample(to_mono(samples), rate, sample_rate)[:seq_len].astype(np.float32)


def _subset(n_keep: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if n_keep <= 0 or n_keep >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=n_keep, replace=False))


def _build_arrays(params: AudioParams, data_seed: int, folder: Path) -> dict[str, np.ndarray]:
    clips = find_clips(folder, params.labels)
    classes = sorted({c.label for c in clips})
    splits = speaker_splits([c.speaker for c in clips], params, data_seed)
    arrays: dict[str, np.ndarray] = {"classes": np.asarray(classes)}
    for split in SPLITS:
        chosen = [c for c in clips if c.speaker in set(splits[split])]
        keep = _subset(getattr(params, f"n_{split}"), len(chosen), split_rng(data_seed, split))
        chosen = [chosen[i] for i in keep]
        waves = np.zeros((len(chosen), params.seq_len), dtype=np.float32)  # (n, L), zero-padded
        lengths = np.zeros(len(chosen), dtype=np.int64)
        for i, clip in enumerate(chosen):
            wave = load_clip(clip.path, sample_rate=params.sample_rate, seq_len=params.seq_len)
            if len(wave) == 0:
                raise MalformedDataError(clip.path, "holds no samples")
            waves[i, : len(wave)], lengths[i] = wave, len(wave)
        arrays[f"{split}_x"], arrays[f"{split}_len"] = waves, lengths
        arrays[f"{split}_y"] = np.asarray([classes.index(c.label) for c in chosen], dtype=np.int64)
        arrays[f"{split}_speakers"] = np.asarray(sorted({c.speaker for c in chosen}))
    return arrays


class WaveformDataset(Dataset):
    """Zero-padded waveforms: items ``((x float32 (L, 1), length int64 ()), y int64 ())``, the length being the
    clip's true length (steps after it are padding; ``lengths`` holds them all). ``x = wave / scale``. The model
    takes the pair as ``model(x, lengths)``, which keeps the padding out of the SSM state and the pooling."""

    def __init__(self, waves: np.ndarray, lengths: np.ndarray, labels: np.ndarray, *, scale: float) -> None:
        if not len(waves) == len(lengths) == len(labels):
            raise ValueError(f"{len(waves)} clips, {len(lengths)} lengths, {len(labels)} labels")
        self.waves = torch.from_numpy(np.ascontiguousarray(waves))
        self.lengths = torch.from_numpy(np.asarray(lengths, dtype=np.int64))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.scale = float(scale)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        return ((self.waves[i] / self.scale).unsqueeze(-1), self.lengths[i]), self.labels[i]


def _train_scale(waves: np.ndarray, lengths: np.ndarray) -> float:
    """The standard deviation of the training clips' true samples (1 when silent)."""
    valid = np.arange(waves.shape[1])[None, :] < lengths[:, None]
    std = float(waves[valid].astype(np.float64).std()) if valid.any() else 0.0
    return std or 1.0


def audio_info(params: AudioParams, data_dir: str | Path | None = None) -> TaskInfo:
    """L from the parameters; the number of classes from the folder's listing where it is found (else 10)."""
    try:
        classes = sorted({c.label for c in find_clips(_folder(params, Path(data_dir) if data_dir else None), params.labels)})
    except (DataNotFoundError, MalformedDataError, OSError):
        classes = []
    return TaskInfo(objective="classification", seq_len=params.seq_len, d_output=len(classes) or 10, d_input=1,
                    extra={"classes": classes or None, "sample_rate": params.sample_rate})


@register_task("audio/wav", AudioParams, "raw-audio classification of WAV clips (label by sub-folder or file name), speaker-disjoint splits", info=audio_info)
def build_audio(params: AudioParams, *, seed: int, data_dir: Path | None) -> TaskData:
    data_seed = data_seed_of(params, seed)
    folder = _folder(params, data_dir)
    arrays = cached("audio/wav", params, data_seed, lambda: _build_arrays(params, data_seed, folder),
                    extra=file_fingerprint([folder]))
    scale = _train_scale(arrays["train_x"], arrays["train_len"])
    splits = {s: WaveformDataset(arrays[f"{s}_x"], arrays[f"{s}_len"], arrays[f"{s}_y"], scale=scale) for s in SPLITS}
    info = TaskInfo(
        objective="classification",
        seq_len=params.seq_len,
        d_output=len(arrays["classes"]),
        d_input=1,
        chance=majority_chance(arrays["train_y"], arrays["test_y"]),
        extra={"classes": arrays["classes"].tolist(), "sample_rate": params.sample_rate, "scale": scale,
               "speakers": {s: arrays[f"{s}_speakers"].tolist() for s in SPLITS}},
    )
    return TaskData(info=info, **splits)


@register_availability("audio/wav")
def _available(params: AudioParams, data_dir: Path | None) -> Availability:
    try:
        return Availability(True, f"WAV clips at {_folder(params, data_dir)}")
    except DataNotFoundError:
        return Availability(False, f"no WAV clips found; {_OBTAIN}")
