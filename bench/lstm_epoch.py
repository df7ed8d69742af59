"""One training epoch of the report's LSTM 2x64 (LSTM 64 -> LSTM 64 -> Dense 64 ReLU -> Dropout 0.3
-> Dense 10, Adam, batch 32) in hw5lib (PyTorch) against the same model in Keras (tensorflow-cpu,
``pip install -e .[bench]``), on the same MFCC sequences, same threads.

    .venv/bin/python bench/lstm_epoch.py [--data auto|synthetic|FOLDER] [--epochs 3] [--threads 2]

Keras is timed as the report most likely ran it (every clip zero-padded to the longest, no mask)
and with a ``Masking`` layer (the same semantics as hw5lib, which reads each clip at its true end).
The first epoch of each (graph tracing, warm-up) is not counted; the figure is the median of the
other epochs, and the ratio is Keras time / hw5lib time (above 1: hw5lib is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="auto")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np
    import torch

    from hw5lib.data import audio
    from hw5lib import digits as D

    torch.set_num_threads(args.threads)
    clips = audio.load_digits(args.data, progress=False, report=lambda message: None)
    data = D.SequenceSet(audio.extract(clips.audio, clips.sample_rate, "mfcc", progress=False), clips.digits)
    train_idx, _ = D.random_split(len(data))
    train, _ = D.normalise(data.subset(train_idx), [], "global")

    model = D.build_model("lstm_2x64", train.n_features)
    history = D.fit(model, train, None, D.Recipe(epochs=args.epochs + 1, lr=1e-3), progress=False)
    ours = statistics.median(row["seconds"] for row in history[1:])

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    longest = max(len(s) for s in train.sequences)
    x = np.zeros((len(train), longest, train.n_features), np.float32)
    for i, sequence in enumerate(train.sequences):
        x[i, :len(sequence)] = sequence
    y = train.labels

    def keras_epochs(masked: bool) -> float:
        layers = [tf.keras.Input((longest, train.n_features))]
        if masked:
            layers.append(tf.keras.layers.Masking(0.0))
        layers += [tf.keras.layers.LSTM(64, return_sequences=True), tf.keras.layers.LSTM(64),
                   tf.keras.layers.Dense(64, activation="relu"), tf.keras.layers.Dropout(0.3),
                   tf.keras.layers.Dense(10, activation="softmax")]
        keras_model = tf.keras.Sequential(layers)
        keras_model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                            metrics=["accuracy"])
        times = []

        class Timer(tf.keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.began = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.began)

        keras_model.fit(x, y, batch_size=32, epochs=args.epochs + 1, verbose=0, callbacks=[Timer()])
        return statistics.median(times[1:])

    padded, masked = keras_epochs(False), keras_epochs(True)
    print(f"LSTM 2x64, one epoch of {len(train)} {clips.source} clips (longest {longest} frames), batch 32, "
          f"{args.threads} threads, median of {args.epochs} epochs after one warm-up")
    print(f"  hw5lib (PyTorch {torch.__version__}, true lengths)  {ours:6.2f} s")
    print(f"  Keras (TF {tf.__version__}), padded, no mask     {padded:6.2f} s   "
          f"ratio Keras/hw5lib {padded / ours:.2f}")
    print(f"  Keras (TF {tf.__version__}), Masking layer       {masked:6.2f} s   "
          f"ratio Keras/hw5lib {masked / ours:.2f}")


if __name__ == "__main__":
    main()
