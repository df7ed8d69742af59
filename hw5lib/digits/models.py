"""The digit models: the report's (Bi)LSTMs, a CNN on log-mel spectrograms and a mean-MFCC model.

Every model takes a padded batch ``(batch, frames, features)`` and the true ``lengths`` and
ignores the padding: the recurrent models read each direction where the sequence really ends,
the CNN and the mean-MFCC model pool over valid frames only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from hw5lib.digits.sets import N_CLASSES, DigitsError
from hw5lib.torchutil import count_parameters


# --- models --------------------------------------------------------------------------------------

class RecurrentClassifier(nn.Module):
    """The report's model family: ``layers`` stacked (Bi)LSTMs of ``hidden`` units -> Dense(dense, ReLU)
    -> Dropout -> Dense(10). The last LSTM's final state (both directions' for a BiLSTM) summarises
    the clip, as Keras' ``LSTM(return_sequences=False)`` does, taken at each sequence's true end.

    Padding is never read as signal, without packing: the forward direction runs over the padded
    batch and is read at ``length - 1`` (what comes after cannot reach it), and the backward
    direction runs over each sequence reversed within its own length, so its padding also comes
    last. On a CPU this is about 2.5x faster than ``pack_padded_sequence``, with the same results
    (a test checks it against a packed ``nn.LSTM`` with the same weights)."""

    def __init__(self, n_inputs: int, hidden: int = 64, layers: int = 2, bidirectional: bool = False,
                 dense: int = 64, dropout: float = 0.3, n_classes: int = N_CLASSES):
        super().__init__()
        directions = 2 if bidirectional else 1
        widths = [n_inputs] + [directions * hidden] * (layers - 1)
        self.layers = nn.ModuleList(
            nn.ModuleList(nn.LSTM(width, hidden, batch_first=True) for _ in range(directions)) for width in widths)
        self.head = nn.Sequential(nn.Linear(directions * hidden, dense), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(dense, n_classes))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (batch, frames, n_inputs), lengths (batch,) -> logits (batch, n_classes)."""
        lengths = lengths.to(x.device)
        rows, end = torch.arange(len(x), device=x.device), lengths - 1
        reverse = _reverse_index(lengths, x.shape[1])[:, :, None]
        h = x
        for directions in self.layers:
            forward, _ = directions[0](h)
            outputs, finals = [forward], [forward[rows, end]]
            if len(directions) == 2:
                backward, _ = directions[1](h.gather(1, reverse.expand(-1, -1, h.shape[2])))
                finals.append(backward[rows, end])
                outputs.append(backward.gather(1, reverse.expand(-1, -1, backward.shape[2])))
            h = torch.cat(outputs, dim=2)
        return self.head(torch.cat(finals, dim=1))


def _reverse_index(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(batch, frames) time indices that reverse each sequence within its length and leave padding in place."""
    steps = torch.arange(frames, device=lengths.device)[None, :]
    flipped = lengths[:, None] - 1 - steps
    return torch.where(flipped >= 0, flipped, steps)


def _valid_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each clip's mean frame over its valid frames only: (batch, frames, n), (batch,) -> (batch, n)."""
    lengths = lengths.to(x.device)
    return (x * _valid_mask(lengths, x.shape[1])[:, :, None]).sum(1) / lengths[:, None]


class ConvClassifier(nn.Module):
    """A CNN on log-mel spectrograms: ``len(channels)`` blocks of 3x3 convolution, batch norm, ReLU and
    2x2 max pooling over (mel, time), then the mean and the maximum over valid time steps and mel
    bands -> Dense(dense, ReLU) -> Dropout -> Dense(10)."""

    def __init__(self, n_inputs: int, channels: Sequence[int] = (16, 32, 64), dense: int = 64,
                 dropout: float = 0.3, n_classes: int = N_CLASSES):
        super().__init__()
        blocks, previous = [], 1
        for width in channels:
            blocks += [nn.Conv2d(previous, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            previous = width
        self.features = nn.Sequential(*blocks)
        self.shrink = 2 ** len(channels)  # time steps per output step
        self.head = nn.Sequential(nn.Linear(2 * previous, dense), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(dense, n_classes))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (batch, frames, n_mels) with frames a multiple of ``self.shrink`` -> logits."""
        h = self.features(x.transpose(1, 2).unsqueeze(1)).mean(2)  # (batch, channels, frames / shrink)
        valid = _valid_mask(torch.clamp(lengths // self.shrink, min=1), h.shape[-1])[:, None, :]
        mean = (h * valid).sum(-1) / valid.sum(-1)
        peak = h.masked_fill(~valid, float("-inf")).amax(-1)
        return self.head(torch.cat([mean, peak], dim=1))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to the input (through a strided 1x1 convolution
    when the shape changes), then ReLU: (batch, c_in, mel, time) -> (batch, c_out, mel/s, time/s)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                                  nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResidualClassifier(nn.Module):
    """A small ResNet on log-mel spectrograms with statistics pooling, for voices never heard.

    A 3x3 stem (stride 2 over mel bands only) -> residual blocks of ``channels`` (the first at
    stride 1, each next at stride 2 over mel and time) -> the mean over mel bands -> the mean and
    standard deviation over the valid time steps (statistics pooling, as x-vectors summarise a
    voice; here it summarises a word whatever its length) -> Dense(dense, ReLU) -> Dropout -> Dense(10)."""

    def __init__(self, n_inputs: int, channels: Sequence[int] = (16, 32, 64), dense: int = 64,
                 dropout: float = 0.3, n_classes: int = N_CLASSES):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels[0], 3, (2, 1), 1, bias=False), nn.BatchNorm2d(channels[0]),
                                  nn.ReLU())
        blocks, previous = [], channels[0]
        for i, width in enumerate(channels):
            blocks.append(ResidualBlock(previous, width, 1 if i == 0 else 2))
            previous = width
        self.blocks = nn.Sequential(*blocks)
        self.shrink = 2 ** (len(channels) - 1)  # time steps per output step
        self.head = nn.Sequential(nn.Linear(2 * previous, dense), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(dense, n_classes))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (batch, frames, n_mels), frames a multiple of ``self.shrink`` -> logits (batch, n_classes)."""
        h = self.blocks(self.stem(x.transpose(1, 2).unsqueeze(1))).mean(2)  # (batch, channels, steps)
        steps = torch.clamp((lengths.to(x.device) + self.shrink - 1) // self.shrink, min=1, max=h.shape[-1])
        valid = _valid_mask(steps, h.shape[-1])[:, None, :]
        count = valid.sum(-1)
        mean = (h * valid).sum(-1) / count
        std = ((((h - mean[..., None]) * valid) ** 2).sum(-1) / count + 1e-5).sqrt()
        return self.head(torch.cat([mean, std], dim=1))


class MeanPooling(nn.Module):
    """The mean of every feature over a clip's valid frames, then ``head``:
    x (batch, frames, n), lengths (batch,) -> ``head`` of the (batch, n) means."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(masked_mean(x, lengths))


class MeanClassifier(MeanPooling):
    """The report's second feature: the mean of each coefficient over the clip's valid frames
    (13 numbers for MFCCs) -> Dense(dense, ReLU) -> Dropout -> Dense(10)."""

    def __init__(self, n_inputs: int, dense: int = 64, dropout: float = 0.3, n_classes: int = N_CLASSES):
        super().__init__(nn.Sequential(nn.Linear(n_inputs, dense), nn.ReLU(), nn.Dropout(dropout),
                                       nn.Linear(dense, n_classes)))


@dataclass(frozen=True)
class ModelSpec:
    feature: str  # "mfcc" or "log_mel"
    make: Callable[[int], nn.Module]
    pad_multiple: int = 1
    # the convolutions' weights laid out channels-last (NHWC), for oneDNN's faster convolutions on a CPU
    # (bench/conv_layout.py measures it): the same model, its sums rounded in another order
    channels_last: bool = False


MODELS: dict[str, ModelSpec] = {
    "lstm_2x64": ModelSpec("mfcc",
                           lambda n: RecurrentClassifier(n, 64, 2)),
    "lstm_1x128": ModelSpec("mfcc",
                            lambda n: RecurrentClassifier(n, 128, 1)),
    "bilstm_2x64": ModelSpec("mfcc",
                             lambda n: RecurrentClassifier(n, 64, 2, bidirectional=True)),
    "bilstm_1x128": ModelSpec("mfcc",
                              lambda n: RecurrentClassifier(n, 128, 1, bidirectional=True)),
    "cnn": ModelSpec("log_mel",
                     lambda n: ConvClassifier(n), pad_multiple=8, channels_last=True),
    "mean_mlp": ModelSpec("mfcc",
                          lambda n: MeanClassifier(n)),
    "resnet": ModelSpec("log_mel",
                        lambda n: ResidualClassifier(n), pad_multiple=4, channels_last=True),
}


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise DigitsError(f"Unknown model {name!r}; choose one of {', '.join(MODELS)}.") from None


def build_model(name: str, n_inputs: int, seed: int = 0) -> nn.Module:
    """A freshly initialised model ``name`` (see :data:`MODELS`) for ``n_inputs`` features per frame."""
    spec = model_spec(name)
    torch.manual_seed(seed)
    model = spec.make(n_inputs)
    return channels_last(model) if spec.channels_last else model


def channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its convolutions' weights laid out channels-last (NHWC), in place: oneDNN's
    convolutions on a CPU run faster so (``bench/conv_layout.py``); the same model, its sums
    rounded in another order. For every convolutional network, registered or searched."""
    return model.to(memory_format=torch.channels_last)


def parameter_count(name: str, n_inputs: int) -> int:
    """Trainable numbers of model ``name`` for ``n_inputs`` features, without touching the global
    random state (writing a sentence about a model's size must not change what trains next)."""
    with torch.random.fork_rng(devices=[]):
        return count_parameters(model_spec(name).make(n_inputs))
