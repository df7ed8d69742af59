"""Small facts about torch modules that several science packages need."""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Trainable numbers in ``model``, each tensor counted once (a tied weight, such as Whisper's
    output projection sharing the token embedding, is one tensor; buffers such as a KAN's grid are
    not parameters). Reads the model only: builds, seeds and changes nothing."""
    unique = {id(parameter): parameter for parameter in model.parameters() if parameter.requires_grad}
    return int(sum(parameter.numel() for parameter in unique.values()))
