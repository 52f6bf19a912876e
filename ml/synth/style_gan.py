"""Voice-to-cat style transfer: a CycleGAN-VC-style pair of 1-D conv generators on log-mel.

``voice_to_cat`` maps a voice's log-mel to a cat's, conditioned on a mood distribution (one-hot
for a named mood, the emotion encoder's prediction for a reference clip); ``cat_to_voice`` maps
back, for the cycle loss. Both are fully convolutional with "same" padding, so the output has
exactly the input's frame count and timing. Two PatchGAN discriminators judge 1-D mel patches;
the cat one is a projection discriminator that also sees the mood. After the generator, the
input's per-frame energy is re-applied (``ml.synth.mel.reapply_envelope``), so onsets and the
loudness envelope are kept by construction; the GAN decides only each frame's spectral shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ml.synth.emotion import MOODS
from ml.synth.mel import N_MELS


@dataclass(frozen=True)
class StyleConfig:
    channels: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 1)
    disc_channels: int = 64

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleConfig:
        return cls(channels=data["channels"], dilations=tuple(data["dilations"]),
                   disc_channels=data["disc_channels"])  # fmt: skip


class GatedBlock(nn.Module):
    """Residual dilated conv → instance norm → GLU."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, 2 * channels, 5, padding=2 * dilation, dilation=dilation)
        self.norm = nn.InstanceNorm1d(2 * channels, affine=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + nn.functional.glu(self.norm(self.conv(h)), dim=1)


class MelGenerator(nn.Module):
    """``[B, N_MELS, T]`` → ``[B, N_MELS, T]``, optionally conditioned on a mood distribution."""

    def __init__(self, config: StyleConfig, conditioned: bool) -> None:
        super().__init__()
        c = config.channels
        self.inp = nn.Conv1d(N_MELS, c, 7, padding=3)
        self.cond = nn.Linear(len(MOODS), c) if conditioned else None
        self.blocks = nn.ModuleList(GatedBlock(c, d) for d in config.dilations)
        self.out = nn.Conv1d(c, N_MELS, 7, padding=3)

    def forward(self, mel: torch.Tensor, moods: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(mel)
        if self.cond is not None:
            if moods is None:
                raise ValueError("this generator needs a mood distribution")
            h = h + self.cond(moods)[..., None]
        for block in self.blocks:
            h = block(h)
        return self.out(h)


class PatchDiscriminator(nn.Module):
    """Scores overlapping mel patches (LSGAN); with ``conditioned`` a projection on the mood."""

    def __init__(self, config: StyleConfig, conditioned: bool) -> None:
        super().__init__()
        c = config.disc_channels
        act = nn.LeakyReLU(0.2)
        self.body = nn.Sequential(
            nn.Conv1d(N_MELS, c, 5, padding=2), act,
            nn.Conv1d(c, 2 * c, 5, stride=2, padding=2), act,
            nn.Conv1d(2 * c, 2 * c, 5, stride=2, padding=2), act,
        )  # fmt: skip
        self.score = nn.Conv1d(2 * c, 1, 3, padding=1)
        self.project = nn.Linear(len(MOODS), 2 * c, bias=False) if conditioned else None

    def forward(self, mel: torch.Tensor, moods: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(mel)
        out = self.score(h)[:, 0]
        if self.project is not None and moods is not None:
            out = out + (self.project(moods)[..., None] * h).sum(1)
        return out


class StyleGAN(nn.Module):
    """The two generators and two discriminators, kept together for training and shipping."""

    def __init__(self, config: StyleConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or StyleConfig()
        self.voice_to_cat = MelGenerator(cfg, conditioned=True)
        self.cat_to_voice = MelGenerator(cfg, conditioned=False)
        self.disc_cat = PatchDiscriminator(cfg, conditioned=True)
        self.disc_voice = PatchDiscriminator(cfg, conditioned=False)
