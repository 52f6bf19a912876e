"""The WaveNet: dilated causal convolutions, gated units, residual and skip paths, µ-law softmax.

Sample ``t`` is predicted from the samples before it (an 8-bit µ-law class, embedded), the
local conditioning (the synthesis log-mel frame that covers ``t``, through a small conv net) and
the global conditioning (the emotion vector). Each layer: ``z = W·[x(t-d), x(t)] + c(t)``,
``g = tanh(z_a)·sigmoid(z_b)``, skip ``+= S·g``, residual ``x += R·g``. Output: ReLU → 1x1 → ReLU →
1x1 → 256 logits. A model with ``excitation`` channels also adds, per layer and sample, a 1x1 of
sines at the pitch read off the mel (:mod:`ml.synth.excitation`) to ``z``.
:meth:`WaveNet.forward` is the full (training / naive) convolution pass;
``ml.synth.generate`` runs the same weights one sample at a time with cached queues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.synth.excitation import excitation as mel_excitation
from ml.synth.mel import HOP, N_MELS, QUANT_LEVELS

START_CLASS = 128
"""The class fed in before the first sample (µ-law of 0.0)."""


@dataclass(frozen=True)
class WaveNetConfig:
    """Sizes. The default (2 stacks x 8 layers, 32 residual / 64 skip) is sized for 2 CPU cores."""

    stacks: int = 2
    layers_per_stack: int = 8
    residual: int = 32
    gate: int = 32
    skip: int = 64
    out_hidden: int = 64
    cond_channels: int = 64
    emotion_dim: int = 16
    excitation: int = 0
    """Harmonic excitation channels (:mod:`ml.synth.excitation`); 0 = none, as first shipped."""

    @property
    def dilations(self) -> list[int]:
        return [2**i for _ in range(self.stacks) for i in range(self.layers_per_stack)]

    @property
    def receptive_field(self) -> int:
        return sum(self.dilations) + 1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaveNetConfig:
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.excitation:
            del data["excitation"]  # configs shipped before it existed stay byte-identical
        return data


class WaveNet(nn.Module):
    def __init__(self, config: WaveNetConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or WaveNetConfig()
        layers = len(cfg.dilations)
        self.embed = nn.Embedding(QUANT_LEVELS, cfg.residual)
        self.cond_net = nn.Conv1d(N_MELS, cfg.cond_channels, 3, padding=1)
        self.cond_local = nn.Conv1d(cfg.cond_channels, layers * 2 * cfg.gate, 1)
        self.cond_global = nn.Linear(cfg.emotion_dim, layers * 2 * cfg.gate, bias=False)
        if cfg.excitation:
            # Zero at first: a WaveNet trained without excitation starts out unchanged.
            self.cond_excitation = nn.Linear(cfg.excitation, layers * 2 * cfg.gate, bias=False)
            nn.init.zeros_(self.cond_excitation.weight)
        self.dilated = nn.ModuleList(
            nn.Conv1d(cfg.residual, 2 * cfg.gate, 2, dilation=d) for d in cfg.dilations
        )
        self.res = nn.ModuleList(nn.Conv1d(cfg.gate, cfg.residual, 1) for _ in cfg.dilations)
        self.skip = nn.ModuleList(nn.Conv1d(cfg.gate, cfg.skip, 1) for _ in cfg.dilations)
        self.out1 = nn.Conv1d(cfg.skip, cfg.out_hidden, 1)
        self.out2 = nn.Conv1d(cfg.out_hidden, QUANT_LEVELS, 1)

    def frame_conditioning(self, mel: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """``[B, layers, 2·gate, frames]``: what each layer adds to its gate input, per frame."""
        cfg = self.config
        local = self.cond_local(torch.tanh(self.cond_net(mel)))  # [B, L*2G, F]
        both = local + self.cond_global(emotion)[..., None]
        return both.view(mel.shape[0], len(cfg.dilations), 2 * cfg.gate, mel.shape[-1])

    def excitation_of(self, mel: torch.Tensor, samples: int) -> torch.Tensor | None:
        """``[B, excitation, samples]`` for ``mel`` ``[B, N_MELS, F]``, or None without excitation."""
        if not self.config.excitation:
            return None
        channels = self.config.excitation
        rows = [mel_excitation(m, samples, channels) for m in mel.detach().cpu()]
        return torch.stack(rows).to(mel.device)

    def forward(
        self,
        prev: torch.Tensor,
        mel: torch.Tensor,
        emotion: torch.Tensor,
        excitation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[B, 256, T]`` for every position: ``prev[:, t]`` is the class of sample t-1.

        ``mel`` ``[B, N_MELS, F]`` needs ``F >= ceil(T / HOP)``; ``emotion`` is ``[B, dim]``.
        ``excitation`` ``[B, channels, T]`` (a model with excitation channels only) defaults to
        :meth:`excitation_of` the mel; training passes crops of whole-clip excitations.
        """
        steps = prev.shape[1]
        if mel.shape[-1] * HOP < steps:
            raise ValueError(f"mel has {mel.shape[-1]} frames, too few for {steps} samples")
        if self.config.excitation:
            if excitation is None:
                excitation = self.excitation_of(mel, steps)
            assert excitation is not None
            excited = excitation.transpose(1, 2)[:, :steps]  # [B, T, channels]
            w_exc = self.cond_excitation.weight.view(
                len(self.config.dilations), 2 * self.config.gate, -1
            )
        # Kept at frame rate and upsampled one layer at a time: a sample-rate tensor for all
        # layers would cost far more memory traffic (in backward above all) than the layers.
        cond = self.frame_conditioning(mel, emotion).permute(0, 1, 3, 2).unbind(1)
        frame_of = torch.arange(steps, device=prev.device) // HOP
        # Channels-last with plain matmuls: on a CPU this is several times faster than Conv1d
        # with 32 channels, and it computes exactly the same causal convolution.
        x = self.embed(prev)  # [B, T, R]
        skip: torch.Tensor | int = 0
        for i, d in enumerate(self.config.dilations):
            conv = self.dilated[i]
            past = F.pad(x, (0, 0, d, 0))[:, :steps]
            z = F.linear(past, conv.weight[:, :, 0]) + F.linear(x, conv.weight[:, :, 1], conv.bias)
            z = z + cond[i][:, frame_of]
            if self.config.excitation:
                z = z + F.linear(excited, w_exc[i])
            a, b = z.chunk(2, dim=-1)
            g = torch.tanh(a) * torch.sigmoid(b)
            skip = skip + F.linear(g, self.skip[i].weight[:, :, 0], self.skip[i].bias)
            x = x + F.linear(g, self.res[i].weight[:, :, 0], self.res[i].bias)
        h = F.relu(F.linear(F.relu(skip), self.out1.weight[:, :, 0], self.out1.bias))  # type: ignore[arg-type]
        return F.linear(h, self.out2.weight[:, :, 0], self.out2.bias).transpose(1, 2)


def sampling_uniforms(seed: int, count: int) -> np.ndarray:
    """The uniform draws (one per sample) that both generators turn into classes."""
    return np.random.default_rng(seed).random(count)


def sample_class(logits: np.ndarray, temperature: float, u: float) -> int:
    """Inverse-CDF draw from ``softmax(logits / temperature)`` with the uniform ``u`` (float64)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    weights = np.exp(scaled - scaled.max())
    cdf = np.cumsum(weights)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1))


def generate_naive(
    model: WaveNet,
    mel: torch.Tensor,
    emotion: torch.Tensor,
    samples: int,
    seed: int,
    temperature: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Reference generator: a full forward pass over the whole prefix for every sample.

    O(T²) work — hundreds of times slower than real time; kept to check the fast generator.
    Returns the µ-law classes ``[samples]``.
    """
    u = sampling_uniforms(seed, samples)
    prev = torch.full((1, samples), START_CLASS, dtype=torch.long)
    out = np.zeros(samples, dtype=np.int64)
    with torch.inference_mode():
        excitation = model.excitation_of(mel[None], samples)
        for t in range(samples):
            logits = model(prev[:, : t + 1], mel[None], emotion[None], excitation)[0, :, t].numpy()
            out[t] = sample_class(logits, temperature, float(u[t]))
            if t + 1 < samples:
                prev[0, t + 1] = int(out[t])
            if progress is not None:
                progress(t + 1)
    return out
