"""WAV clips (``audio/wav``): samples read back as written, resampling, speaker-disjoint splits, and padded clips
whose logits equal the unpadded clip's."""

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from ssmem.data import build_task
from ssmem.data._errors import MalformedDataError
from ssmem.data.audio import AudioParams
from ssmem.data.wav import read_wav, resample
from ssmem.train import build_model, load_recipe, task_params, train


def write_wav(path, values, *, width, rate=8000):
    """``values`` int ``(frames, channels)`` in the signed range of ``width`` bytes, written with ``wave``."""
    values = np.asarray(values, dtype=np.int64)
    if width == 1:
        raw = (values + 128).astype(np.uint8).tobytes()
    elif width == 3:
        unsigned = values.reshape(-1) & 0xFFFFFF
        raw = np.stack([(unsigned >> s) & 0xFF for s in (0, 8, 16)], axis=1).astype(np.uint8).tobytes()
    else:
        raw = values.astype({2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(values.shape[1])
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(raw)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_samples_read_back_as_written(tmp_path, rng, width, channels):
    top = 1 << (8 * width - 1)
    values = rng.integers(-top, top, size=(50, channels))
    values[:2] = [[-top] * channels, [top - 1] * channels]  # the extremes
    write_wav(tmp_path / "a.wav", values, width=width, rate=11025)
    samples, rate = read_wav(tmp_path / "a.wav")
    assert rate == 11025 and samples.shape == (50, channels)
    np.testing.assert_array_equal(samples, values / top)


def test_a_cut_wav_file_is_named(tmp_path, rng):
    write_wav(tmp_path / "cut.wav", rng.integers(-100, 100, size=(400, 1)), width=2)
    data = (tmp_path / "cut.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:-101])
    with pytest.raises(MalformedDataError, match=r"cut\.wav.*header promises"):
        read_wav(tmp_path / "cut.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(MalformedDataError, match=r"text\.wav.*not a readable PCM WAV"):
        read_wav(tmp_path / "text.wav")


def test_resampling_keeps_a_tone():
    t = np.arange(22050) / 22050  # one second at 22.05 kHz
    out = resample(np.sin(2 * np.pi * 440 * t), 22050, 8000)
    assert out.shape == (8000,)
    want = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    np.testing.assert_allclose(out[200:-200], want[200:-200], atol=1e-2)  # away from the edges' filter transients


LABELS, SPEAKERS = ("high", "low", "mid"), ("ann", "bob", "cy", "dee", "eve")
PITCH = {"high": 900.0, "low": 200.0, "mid": 450.0}


def write_clips(root, *, by_folder, rate=8000):
    """Two tones per (label, speaker), of different lengths, in the folder or file-name layout; returns
    {(label, speaker, index): samples} as floats (16-bit values / 2^15)."""
    written = {}
    for label in LABELS:
        for k, speaker in enumerate(SPEAKERS):
            for index in range(2):
                n = 300 + 70 * k + 40 * index  # 300..620 samples; L = 500 cuts the longest
                values = np.rint(8000 * np.sin(2 * np.pi * PITCH[label] * np.arange(n) / rate)).astype(np.int64)
                path = root / label / f"{speaker}_{index}.wav" if by_folder else root / f"{label}_{speaker}_{index}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                write_wav(path, values[:, None], width=2, rate=rate)
                written[(label, speaker, index)] = values / 32768
    return written


def test_clips_become_padded_waveforms_with_speaker_disjoint_splits(tmp_path):
    written = write_clips(tmp_path / "by_folder", by_folder=True)
    write_clips(tmp_path / "by_name", by_folder=False)
    params = dict(sample_rate=8000, max_seconds=0.0625, val_fraction=0.2, test_fraction=0.2)  # L = 500
    data = build_task("audio/wav", AudioParams(release_dir=str(tmp_path / "by_folder"), **params))
    same = build_task("audio/wav", AudioParams(release_dir=str(tmp_path / "by_name"), labels="filename", **params))
    speakers = data.info.extra["speakers"]
    assert sorted(sum(speakers.values(), [])) == list(SPEAKERS) and [len(speakers[s]) for s in ("train", "val", "test")] == [3, 1, 1]
    assert data.info.seq_len == 500 and data.info.extra["classes"] == list(LABELS) and data.info.d_output == 3
    scale = data.info.extra["scale"]
    for split in ("train", "val", "test"):
        ours, theirs = getattr(data, split), getattr(same, split)
        assert len(ours) == 6 * len(speakers[split])
        assert torch.equal(ours.waves, theirs.waves) and torch.equal(ours.lengths, theirs.lengths)
    # the first test clip: the test speaker's index-0 clip of label "high"
    speaker, clip = speakers["test"][0], written[("high", speakers["test"][0], 0)]
    (x, length), y = data.test[0]
    n = int(data.test.lengths[0])
    assert int(y) == 0 and n == int(length) == min(len(clip), 500) and x.shape == (500, 1)
    np.testing.assert_allclose(x[:n, 0].numpy(), clip[:n] / scale, rtol=1e-6)
    assert not x[n:].any()  # zero padding
    train_valid = torch.cat([data.train.waves[i, : data.train.lengths[i]] for i in range(len(data.train))])
    assert scale == pytest.approx(float(train_valid.double().std(unbiased=False)), rel=1e-6)
    assert speaker in SPEAKERS


def test_too_few_speakers_and_bad_names_are_refused(tmp_path):
    (tmp_path / "bad").mkdir()
    write_wav(tmp_path / "bad" / "one_two.wav", np.zeros((10, 1), dtype=np.int64), width=2)
    with pytest.raises(MalformedDataError, match=r"one_two\.wav.*<label>_<speaker>_<index>"):
        build_task("audio/wav", AudioParams(release_dir=str(tmp_path / "bad"), labels="filename"))
    with pytest.raises(ValueError, match="labels 'tags' is not one of: folder, filename"):
        AudioParams(labels="tags")


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_a_padded_clip_gives_its_unpadded_logits(tmp_path, norm):
    write_clips(tmp_path, by_folder=True)
    cfg = load_recipe("audio/digits-cpu", [f"task.params.release_dir={tmp_path}", "task.params.max_seconds=0.0625",
                                           "model.d_model=8", "model.d_state=8", f"model.norm={norm}"])
    data = build_task("audio/wav", AudioParams(release_dir=str(tmp_path), max_seconds=0.0625))
    model = build_model(cfg.model, data.info, seed=0).double().eval()
    x = torch.stack([data.train[i][0][0] for i in range(3)]).double()  # (3, 500, 1), padded
    lengths = data.train.lengths[:3]
    assert (lengths < 500).any()
    with torch.no_grad():
        padded = model(x, lengths)
        alone = torch.cat([model(x[i : i + 1, : int(lengths[i])]) for i in range(3)])
        unmasked = model(x)
    torch.testing.assert_close(padded, alone, rtol=1e-9, atol=1e-9)
    assert not torch.allclose(unmasked, alone)  # without the lengths, the padding would change the logits


@pytest.mark.slow
def test_digits_cpu_recipe_learns_spoken_digits(tmp_path):
    """The stated accuracy of audio/digits-cpu: clearly above chance on speakers it never heard (about half an
    hour on one busy CPU core)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("the spoken digits are made with espeak-ng: apt-get install -y espeak-ng")
    script = Path(__file__).resolve().parents[2] / "scripts" / "make_spoken_digits.py"
    subprocess.run([sys.executable, str(script), str(tmp_path / "digits")], check=True, capture_output=True)
    cfg = load_recipe("audio/digits-cpu", [f"task.params.release_dir={tmp_path / 'digits'}", "device=cpu"])
    result = train(cfg, tmp_path / "run", progress=False)
    chance = build_task("audio/wav", task_params(cfg.task)).info.chance
    assert result.status == "completed" and result.test_metric > chance + (1 - chance) / 3
