"""Mel prior: the frame-rate half of synthesis — mood in, a log-mel contour (100 frames/s) out.

The WaveNet turns a mel contour into samples; something has to decide what a happy meow's
contour looks like. This is a small autoregressive GRU over mel frames (Tacotron-style): the
previous frame goes through a pre-net whose dropout stays on when sampling (it keeps free-running
generation from collapsing onto the average, and seeds the variety), the emotion vector enters
every step, and the output is a diagonal Gaussian per frame, sampled with a temperature.

Mood control can be strengthened at sampling time by guidance (as in classifier-free guidance):
training replaces the emotion vector by zeros for a share of the crops, so the same network also
models "any cat"; sampling with ``guidance`` g > 1 steps both and moves each frame's mean away
from the unconditional one, ``mean_any + g * (mean_mood - mean_any)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.synth.mel import LOG_FLOOR, MEL_OFFSET, MEL_SCALE, N_MELS

SILENT_FRAME = (torch.log(torch.tensor(LOG_FLOOR)) + MEL_OFFSET) / MEL_SCALE
"""The normalised log-mel value of silence: the "previous frame" before the first one."""


@dataclass(frozen=True)
class PriorConfig:
    hidden: int = 256
    prenet: int = 128
    emotion_dim: int = 16
    dropout: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriorConfig:
        return cls(**{k: v for k, v in data.items() if k != "kind"})


class MelPrior(nn.Module):
    def __init__(self, config: PriorConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or PriorConfig()
        self.prenet1 = nn.Linear(N_MELS, cfg.prenet)
        self.prenet2 = nn.Linear(cfg.prenet, cfg.prenet)
        self.gru = nn.GRU(cfg.prenet + cfg.emotion_dim, cfg.hidden, batch_first=True)
        self.init_state = nn.Linear(cfg.emotion_dim, cfg.hidden)
        self.head = nn.Linear(cfg.hidden + cfg.emotion_dim, 2 * N_MELS)

    def _prenet(self, frames: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        p = self.config.dropout
        h = torch.relu(self.prenet1(frames))
        h = h * (torch.rand(h.shape, generator=generator, device=h.device) > p) / (1 - p)
        h = torch.relu(self.prenet2(h))
        return h * (torch.rand(h.shape, generator=generator, device=h.device) > p) / (1 - p)

    def _step_inputs(self, prev: torch.Tensor, emotion: torch.Tensor, gen: Any) -> torch.Tensor:
        e = emotion[:, None].expand(-1, prev.shape[1], -1)
        return torch.cat([self._prenet(prev, gen), e], dim=-1)

    def forward(
        self, mel: torch.Tensor, emotion: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced mean and log-std ``[B, F, N_MELS]`` for ``mel`` ``[B, N_MELS, F]``."""
        frames = mel.transpose(1, 2)
        first = torch.full_like(frames[:, :1], float(SILENT_FRAME))
        prev = torch.cat([first, frames[:, :-1]], dim=1)
        h0 = torch.tanh(self.init_state(emotion))[None]
        out, _ = self.gru(self._step_inputs(prev, emotion, None), h0)
        e = emotion[:, None].expand(-1, out.shape[1], -1)
        mean, log_std = self.head(torch.cat([out, e], dim=-1)).chunk(2, dim=-1)
        return mean, log_std.clamp(-5.0, 2.0)

    def loss(
        self, mel: torch.Tensor, emotion: torch.Tensor, drop_emotion: float = 0.0
    ) -> torch.Tensor:
        """Gaussian negative log-likelihood per mel value (constant dropped).

        ``drop_emotion``: the share of crops whose emotion vector is replaced by zeros (the
        unconditional model that guidance needs).
        """
        if drop_emotion > 0:
            keep = torch.rand(emotion.shape[0], 1, device=emotion.device) >= drop_emotion
            emotion = emotion * keep
        mean, log_std = self(mel, emotion)
        target = mel.transpose(1, 2)
        return (log_std + 0.5 * ((target - mean) / log_std.exp()) ** 2).mean()

    @torch.inference_mode()
    def sample(
        self,
        emotion: torch.Tensor,
        frames: int,
        seed: int,
        temperature: float = 0.6,
        guidance: float = 1.0,
    ) -> torch.Tensor:
        """A ``[N_MELS, frames]`` log-mel contour for one emotion vector ``[dim]``.

        The same network as :meth:`forward`, stepped in numpy (a GRU step through torch costs
        more in call overhead than in arithmetic). Every random draw (pre-net dropout masks,
        output noise) comes from one seeded generator, drawn up front. ``guidance`` != 1 also
        steps the unconditional model (zero emotion) on the same frames and extrapolates the
        mean from it; the spread stays the conditional one.
        """
        cfg = self.config
        gen = torch.Generator().manual_seed(seed)
        keep1 = (torch.rand((frames, cfg.prenet), generator=gen) > cfg.dropout).numpy()
        keep2 = (torch.rand((frames, cfg.prenet), generator=gen) > cfg.dropout).numpy()
        noise = torch.randn((frames, N_MELS), generator=gen).numpy()
        scale = np.float32(1.0 / (1.0 - cfg.dropout))

        def np32(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().numpy().astype(np.float32)

        w1, b1 = np32(self.prenet1.weight.T), np32(self.prenet1.bias)
        w2, b2 = np32(self.prenet2.weight.T), np32(self.prenet2.bias)
        w_ih = self.gru.weight_ih_l0
        w_x = np32(w_ih[:, : cfg.prenet].T)
        w_h, b_hh = np32(self.gru.weight_hh_l0.T), np32(self.gru.bias_hh_l0)
        w_head = np32(self.head.weight[:, : cfg.hidden].T)
        hidden = cfg.hidden

        def stream(e: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """(input-gate constant, head constant, initial state) of one emotion vector."""
            e = e[None].to(self.head.weight)
            const_i = np32(e @ w_ih[:, cfg.prenet :].T + self.gru.bias_ih_l0)[0]
            const_head = np32(e @ self.head.weight[:, cfg.hidden :].T + self.head.bias)[0]
            return const_i, const_head, np32(torch.tanh(self.init_state(e)))[0]

        def step(x: np.ndarray, state: np.ndarray, const_i: np.ndarray) -> np.ndarray:
            gi = x @ w_x + const_i
            gh = state @ w_h + b_hh
            r = 1 / (1 + np.exp(-(gi[:hidden] + gh[:hidden])))
            z = 1 / (1 + np.exp(-(gi[hidden : 2 * hidden] + gh[hidden : 2 * hidden])))
            n = np.tanh(gi[2 * hidden :] + r * gh[2 * hidden :])
            return (1 - z) * n + z * state

        const_i, const_head, state = stream(emotion)
        guided = guidance != 1.0
        if guided:
            any_i, any_head, any_state = stream(torch.zeros_like(emotion))
        prev = np.full(N_MELS, float(SILENT_FRAME), dtype=np.float32)
        out = np.empty((frames, N_MELS), dtype=np.float32)
        for t in range(frames):
            h = np.maximum(prev @ w1 + b1, 0) * keep1[t] * scale
            h = np.maximum(h @ w2 + b2, 0) * keep2[t] * scale
            state = step(h, state, const_i)
            head = state @ w_head + const_head
            mean = head[:N_MELS]
            if guided:
                any_state = step(h, any_state, any_i)
                any_mean = any_state @ w_head[:, :N_MELS] + any_head[:N_MELS]
                mean = any_mean + np.float32(guidance) * (mean - any_mean)
            log_std = np.clip(head[N_MELS:], -5.0, 2.0)
            prev = out[t] = mean + temperature * np.exp(log_std) * noise[t]
        return torch.from_numpy(out.T.copy())
