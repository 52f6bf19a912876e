"""Emotion encoder: a mood name or a reference recording → the vector that conditions synthesis.

Two paths into one space. A *mood* is a one-hot distribution over the ten naya situations; a
*reference clip* goes through a small log-mel CNN that predicts that distribution (trained as a
mood classifier on naya's training groups). Either distribution ``p`` is mapped to the emotion
vector ``e = p @ table``, where ``table`` (one learned row per mood) is trained jointly with the
mel prior and the WaveNet. So "in the mood of this recording" is the probability-weighted mix of
the mood vectors the generator learned. Users see naya's labels under ``ml.tasks`` display names
(hunting_mind → curious, resting → sleepy).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ml.synth.mel import N_MELS, log_mel
from ml.tasks import CAT_EMOTION, NAYA_LABELS

MOODS = NAYA_LABELS
EMOTION_DIM = 16


def mood_index(mood: str) -> int:
    """Index of a mood given as a naya label or its display name (``curious``, ``sleepy`` …)."""
    for i, label in enumerate(MOODS):
        if mood in (label, CAT_EMOTION.display(label)):
            return i
    known = ", ".join(sorted({*MOODS, *(CAT_EMOTION.display(m) for m in MOODS)}))
    raise ValueError(f"unknown mood {mood!r}; known moods: {known}")


def mood_name(index: int) -> str:
    """The display name users see for a mood index."""
    return CAT_EMOTION.display(MOODS[index])


class ReferenceEncoder(nn.Module):
    """Log-mel clip → logits over the moods (conv, mean+max pooling over time)."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(N_MELS, channels, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * channels, len(MOODS))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.convs(mel)
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))


class EmotionEncoder(nn.Module):
    """The mood table (trained with the generator) and the reference-clip encoder."""

    def __init__(self, dim: int = EMOTION_DIM) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(len(MOODS), dim) * 0.5)
        self.reference = ReferenceEncoder()

    def from_distribution(self, p: torch.Tensor) -> torch.Tensor:
        """``[B, moods]`` distributions → ``[B, dim]`` emotion vectors."""
        return p @ self.table

    def from_moods(self, moods: torch.Tensor) -> torch.Tensor:
        """Mood indices ``[B]`` → emotion vectors (table rows)."""
        return self.table[moods]

    def reference_distribution(self, wave: np.ndarray) -> torch.Tensor:
        """The predicted mood distribution ``[moods]`` of a 16 kHz mono clip."""
        with torch.inference_mode():
            return torch.softmax(self.reference(log_mel(wave)[None]), dim=-1)[0]

    def encode(self, mood: str | None = None, reference: np.ndarray | None = None) -> torch.Tensor:
        """Emotion vector ``[dim]`` of a mood name or of a reference clip (exactly one of them)."""
        if (mood is None) == (reference is None):
            raise ValueError("give exactly one of a mood or a reference clip")
        if mood is not None:
            p = torch.zeros(len(MOODS))
            p[mood_index(mood)] = 1.0
        else:
            p = self.reference_distribution(np.asarray(reference, dtype=np.float32))
        with torch.inference_mode():
            return self.from_distribution(p[None])[0]
