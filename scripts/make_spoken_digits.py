"""Speak the ten digits into WAV files with Debian's espeak-ng: a spoken-digit set for the ``audio/wav`` task.

Each speaker is an espeak-ng voice with a voice variant; each speaker says every digit at several speeds and
pitches. Files are named ``<digit>_<speaker>_<index>.wav`` (train with ``task.params.labels=filename``), 16-bit
mono at espeak-ng's 22050 Hz (the task resamples them).

    apt-get install -y espeak-ng          # once (CI: the same line before the tests that need it)
    python scripts/make_spoken_digits.py OUT_DIR [--speakers N]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
from pathlib import Path

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("m1", "m3", "f2", "f4")
SPEEDS = (120, 150, 185)  # words per minute
PITCHES = (35, 50, 65)  # espeak-ng's 0-99 scale


def speakers() -> list[tuple[str, str]]:
    """(voice, variant) pairs, in a fixed order: the voices cycle first, so a few speakers differ in accent."""
    return [(voice, variant) for variant, voice in itertools.product(VARIANTS, VOICES)]


def speak(text: str, voice: str, variant: str, speed: int, pitch: int, out: Path) -> None:
    subprocess.run(["espeak-ng", "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
                   check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--speakers", type=int, default=len(speakers()), help=f"how many speakers (at most {len(speakers())})")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed: apt-get install -y espeak-ng", file=sys.stderr)
        return 1
    chosen = speakers()[: args.speakers]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for voice, variant in chosen:
        speaker = f"{voice.replace('-', '')}{variant}"  # no "_": it separates the name's fields
        for digit, word in enumerate(DIGITS):
            for index, (speed, pitch) in enumerate(itertools.product(SPEEDS, PITCHES)):
                speak(word, voice, variant, speed, pitch, args.out_dir / f"{digit}_{speaker}_{index}.wav")
    print(f"{len(chosen) * len(DIGITS) * len(SPEEDS) * len(PITCHES)} clips from {len(chosen)} speakers in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
