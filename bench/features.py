"""Feature extraction speed: clips per second for hw5lib.data.audio.extract, cold (empty cache, 2 worker
processes) and cached (the second call), against a plain per-file librosa loop (read the file,
compute MFCCs, one clip after another).

    .venv/bin/python bench/features.py [--data auto|synthetic|FOLDER] [--repeats 3]

Uses FSDD when this workplace has it (``--data auto``), synthetic espeak-ng digits otherwise.
Prints medians of ``--repeats`` runs in one process, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    import librosa
    import soundfile

    from hw5lib.data import audio

    digits = audio.load_digits(args.data, progress=False, report=lambda message: None)
    _, clips = audio.find_clips(digits.folder)
    paths = [clip.path for clip in clips][:len(digits)]
    n = len(paths)
    window, hop, n_fft = audio._frames(digits.sample_rate, 25.0, 10.0)

    def plain_loop():
        for path in paths:
            samples, rate = soundfile.read(path, dtype="float32")
            if rate != digits.sample_rate:
                samples = librosa.resample(samples, orig_sr=rate, target_sr=digits.sample_rate)
            librosa.feature.mfcc(y=samples, sr=digits.sample_rate, n_mfcc=13, n_fft=n_fft, win_length=window,
                                 hop_length=hop, n_mels=40, fmax=digits.sample_rate / 2)

    def timed(function) -> float:
        began = time.perf_counter()
        function()
        return time.perf_counter() - began

    plain, cold, cached = [], [], []
    for _ in range(args.repeats):
        plain.append(timed(plain_loop))
        with tempfile.TemporaryDirectory() as cache:
            os.environ["HW5LIB_CACHE"] = cache
            cold.append(timed(lambda: audio.extract(digits.audio, digits.sample_rate, "mfcc", n_jobs=args.jobs,
                                                    progress=False)))
            cached.append(timed(lambda: audio.extract(digits.audio, digits.sample_rate, "mfcc", progress=False)))
    rate = {name: n / statistics.median(times) for name, times in
            (("plain librosa loop", plain), ("extract, cold", cold), ("extract, cached", cached))}
    print(f"{n} clips of {digits.source} at {digits.sample_rate} Hz, MFCC 13 x (25 ms, 10 ms hop), "
          f"median of {args.repeats} runs, {os.cpu_count()} CPUs, {args.jobs} worker processes")
    for name, value in rate.items():
        print(f"  {name:20s} {value:8.0f} clips/s")
    print(f"  cold / plain   {rate['extract, cold'] / rate['plain librosa loop']:.2f}x")
    print(f"  cached / plain {rate['extract, cached'] / rate['plain librosa loop']:.1f}x")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
