"""Flow-matching mel prior: mood in, a whole 2 s log-mel contour out, refined from noise.

The GRU prior (:mod:`ml.synth.prior`) writes a contour one frame at a time; trained for minutes
it drifts into stationary noise (its samples, rendered even by Griffin-Lim, are never called
cat). This prior sees the whole contour at once: a 1-D U-Net over time, with the 80 mel bands as
channels (so every layer sees every harmonic), learns the velocity field of a rectified flow
(Liu et al. 2022; Lipman et al. 2023) from Gaussian noise to real naya log-mels, given the
emotion vector and the flow time. Sampling integrates that field with Euler steps from seeded
noise, with classifier-free guidance on the mood (training drops the mood for a share of crops).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ml.synth.mel import N_MELS

KIND = "flow"
"""``config.json``'s ``prior.kind`` for this prior (a GRU prior's config has no kind)."""
DEFAULT_STEPS = 24
TIME_SAMPLING = ("uniform", "logit-normal")


@dataclass(frozen=True)
class FlowPriorConfig:
    """Sizes. ``widths`` are the channels at each time resolution (1, 1/2, 1/4 …)."""

    widths: tuple[int, ...] = (192, 256, 256)
    blocks: int = 2
    emotion_dim: int = 16
    embed: int = 128
    frames: int = 200
    """The training window in 10 ms frames (2 s); sampling takes any length."""

    def to_dict(self) -> dict[str, Any]:
        """The config as shipped: ``kind`` tells the loader which prior this is."""
        return {"kind": KIND, **asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowPriorConfig:
        data = dict(data)
        data.pop("kind", None)
        data["widths"] = tuple(data.get("widths", cls.widths))
        return cls(**data)


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of the flow time ``t`` in [0, 1], ``[B] -> [B, dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, twice, with the conditioning as a per-channel scale and shift."""

    def __init__(self, channels_in: int, channels: int, embed: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels_in)
        self.conv1 = nn.Conv1d(channels_in, channels, 3, padding=1)
        self.film = nn.Linear(embed, 2 * channels)
        self.norm2 = nn.GroupNorm(8, channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.skip = nn.Conv1d(channels_in, channels, 1) if channels_in != channels else None
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond)[..., None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return h + (x if self.skip is None else self.skip(x))


class FlowPrior(nn.Module):
    def __init__(self, config: FlowPriorConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or FlowPriorConfig()
        if cfg.frames % 2 ** (len(cfg.widths) - 1):
            raise ValueError(f"frames {cfg.frames} must divide by 2^{len(cfg.widths) - 1}")
        self.cond = nn.Sequential(
            nn.Linear(cfg.embed + cfg.emotion_dim, cfg.embed),
            nn.SiLU(),
            nn.Linear(cfg.embed, cfg.embed),
        )
        self.inp = nn.Conv1d(N_MELS, cfg.widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = cfg.widths[0]
        for level, width in enumerate(cfg.widths):
            blocks = nn.ModuleList()
            for _ in range(cfg.blocks):
                blocks.append(ResBlock(prev, width, cfg.embed))
                prev = width
            self.down.append(blocks)
            if level < len(cfg.widths) - 1:
                self.downsample.append(nn.Conv1d(width, width, 4, stride=2, padding=1))
        self.mid = ResBlock(prev, prev, cfg.embed)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(cfg.widths))):
            width = cfg.widths[level]
            blocks = nn.ModuleList()
            for b in range(cfg.blocks):
                blocks.append(ResBlock(prev + (width if b == 0 else 0), width, cfg.embed))
                prev = width
            self.up.append(blocks)
            if level > 0:
                self.upsample.append(nn.ConvTranspose1d(width, cfg.widths[level - 1], 4, 2, 1))
                prev = cfg.widths[level - 1]
        self.out_norm = nn.GroupNorm(8, prev)
        self.out = nn.Conv1d(prev, N_MELS, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """Velocity ``[B, N_MELS, F]`` at ``x`` ``[B, N_MELS, F]``, flow time ``t`` ``[B]``."""
        cond = self.cond(torch.cat([time_embedding(t, self.config.embed), emotion], dim=-1))
        h = self.inp(x)
        skips = []
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, cond)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        h = self.mid(h, cond)
        for i, blocks in enumerate(self.up):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in blocks:
                h = block(h, cond)
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.out(F.silu(self.out_norm(h)))

    def loss(
        self,
        mel: torch.Tensor,
        emotion: torch.Tensor,
        drop_emotion: float = 0.1,
        time_sampling: str = "uniform",
    ) -> torch.Tensor:
        """Rectified-flow regression: predict ``data - noise`` on the straight path between them.

        Flow times are drawn uniformly by default. ``logit-normal`` (Esser et al. 2024) weights
        the middle of the path; it starves the start, near pure noise, where the mood has to
        decide what the contour becomes (on a two-mood toy set in the tests, 12 of 12 contours
        take their own mood with uniform times, 8 of 12 with logit-normal).
        """
        if time_sampling not in TIME_SAMPLING:
            raise ValueError(f"time_sampling must be one of {TIME_SAMPLING}, not {time_sampling!r}")
        if drop_emotion > 0:
            keep = torch.rand(emotion.shape[0], 1, device=emotion.device) >= drop_emotion
            emotion = emotion * keep
        noise = torch.randn_like(mel)
        t = torch.rand(mel.shape[0], device=mel.device)
        if time_sampling == "logit-normal":
            t = torch.sigmoid(torch.randn(mel.shape[0], device=mel.device))
        x = (1 - t[:, None, None]) * noise + t[:, None, None] * mel
        return F.mse_loss(self(x, t, emotion), mel - noise)

    @torch.inference_mode()
    def sample(
        self,
        emotion: torch.Tensor,
        frames: int,
        seed: int,
        temperature: float = 1.0,
        guidance: float = 1.0,
        steps: int = DEFAULT_STEPS,
    ) -> torch.Tensor:
        """A ``[N_MELS, frames]`` log-mel contour for one emotion vector ``[dim]``.

        Euler steps from seeded noise scaled by ``temperature``; ``guidance`` g moves each
        velocity away from the mood-less one, ``v_any + g (v_mood - v_any)`` (g = 1: none).
        The net is convolutional, so any length works; it was trained on 2 s windows.
        """
        cfg = self.config
        unit = 2 ** (len(cfg.widths) - 1)
        padded = math.ceil(frames / unit) * unit
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((1, N_MELS, padded), generator=gen) * temperature
        e = emotion[None].to(x)
        both = torch.cat([e, torch.zeros_like(e)]) if guidance != 1.0 else e
        for k in range(steps):
            t = torch.full((both.shape[0],), k / steps)
            v = self(x.expand(both.shape[0], -1, -1), t, both)
            if guidance != 1.0:
                v = v[1:] + guidance * (v[:1] - v[1:])
            x = x + v / steps
        return x[0, :, :frames].contiguous()
