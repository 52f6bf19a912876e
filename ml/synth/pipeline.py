"""The shipped synthesis models, loaded from ``ml/weights``, and the two things they do.

:class:`MeowSynthesiser`: mood (or reference clip) → emotion vector → mel prior contour → WaveNet
(fast cached generation) → 16 kHz audio. :class:`VoiceToCat`: voice → log-mel → GAN generator
(mood-conditioned) → the input's frame energies re-applied → Griffin-Lim (or the WaveNet as a
mel-conditioned vocoder, slower) → audio. Every result names the ids (sha256 of the weights files)
of the models that made it, which is what the chain records.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ml.registry import WEIGHTS_FILE, ModelNotFoundError, prefixed, sha256_file, weights_dir
from ml.synth.emotion import MOODS, EmotionEncoder, mood_index, mood_name
from ml.synth.flow_prior import DEFAULT_STEPS, FlowPrior, FlowPriorConfig
from ml.synth.generate import FastGenerator
from ml.synth.mel import (
    frames_for,
    griffin_lim,
    log_mel,
    mu_law_decode,
    peak_normalise,
    reapply_envelope,
)
from ml.synth.prior import MelPrior, PriorConfig
from ml.synth.style_gan import MelGenerator, StyleConfig
from ml.synth.wavenet import WaveNet, WaveNetConfig

WAVENET_DIR = "wavenet"
EMOTION_DIR = "emotion-encoder"
STYLE_DIR = "style-gan"
MAX_SECONDS = 10.0


def _folder(name: str, root: Path | None) -> Path:
    folder = (root or weights_dir()) / name
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / "config.json").is_file():
        raise ModelNotFoundError(
            f"no shipped {name} model in {folder} (train it with python -m ml.synth.train_*, "
            "then python -m ml.synth.ship)"
        )
    return folder


def sampling_json(sampling: dict[str, Any]) -> str:
    """The canonical text of sampling settings, as stored in a weights file's header."""
    return json.dumps({k: float(v) for k, v in sorted(sampling.items())}, sort_keys=True)


def shipped_sampling(folder: Path, config: dict[str, Any]) -> dict[str, float]:
    """The sampling settings a shipped model was saved with (in its weights file's header).

    They are part of the weights file, so the model id (its sha256) covers them: the same id,
    mood and seed always give the same sound. ``config.json`` repeats them for people to read;
    if the two disagree (someone edited config.json), loading refuses rather than sample in a
    way the id does not name. ``config`` is the folder's parsed ``config.json``.
    """
    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as handle:
        stored = json.loads((handle.metadata() or {}).get("sampling", "{}"))
    said = config.get("sampling", {})
    if sampling_json(said) != sampling_json(stored):
        raise ValueError(
            f"{folder / 'config.json'} says sampling {sampling_json(said)} but the weights "
            f"were shipped with {sampling_json(stored)}; re-ship the model to change them "
            "(python -m ml.synth.ship) so its id changes too"
        )
    return stored


def build_prior(config: dict[str, Any]) -> MelPrior | FlowPrior:
    """The mel prior a shipped ``config.json``'s ``prior`` section describes (untrained).

    ``kind: flow`` is the flow-matching prior (:mod:`ml.synth.flow_prior`); no kind is the GRU
    prior the first models shipped with (:mod:`ml.synth.prior`).
    """
    kind = config.get("kind", "gru")
    if kind == "flow":
        return FlowPrior(FlowPriorConfig.from_dict(config))
    if kind == "gru":
        return MelPrior(PriorConfig.from_dict(config))
    raise ValueError(f"unknown mel prior kind {kind!r}: flow or gru")


def load_emotion_encoder(root: Path | None = None) -> tuple[EmotionEncoder, str]:
    folder = _folder(EMOTION_DIR, root)
    config = json.loads((folder / "config.json").read_text())
    encoder = EmotionEncoder(dim=int(config["emotion_dim"]))
    encoder.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    return encoder.eval(), sha256_file(folder / WEIGHTS_FILE)


@dataclass
class SynthResult:
    """Generated audio (mono float32, 16 kHz) and what made it."""

    wave: np.ndarray
    mood: str
    seed: int
    temperature: float
    model_id: str
    emotion_model_id: str
    extra: dict[str, object] = field(default_factory=dict)


def _check_seconds(seconds: float) -> None:
    if not 0.1 <= seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be between 0.1 and {MAX_SECONDS:g}, got {seconds:g}")


class MeowSynthesiser:
    """The shipped WaveNet + mel prior with the emotion encoder."""

    def __init__(self, root: Path | None = None) -> None:
        folder = _folder(WAVENET_DIR, root)
        config = json.loads((folder / "config.json").read_text())
        state = load_file(str(folder / WEIGHTS_FILE))
        self.wavenet = WaveNet(WaveNetConfig.from_dict(config["wavenet"]))
        self.wavenet.load_state_dict(prefixed(state, "wavenet."))
        self.prior = build_prior(config["prior"])
        self.prior.load_state_dict(prefixed(state, "prior."))
        self.wavenet.eval(), self.prior.eval()
        sampling = shipped_sampling(folder, config)
        self.contour_guidance = sampling.get("contour_guidance", 1.0)
        self.contour_temperature = sampling.get("contour_temperature", 0.6)
        self.contour_steps = int(sampling.get("contour_steps", DEFAULT_STEPS))
        self.generator = FastGenerator(self.wavenet)
        self.model_id = sha256_file(folder / WEIGHTS_FILE)
        self.emotion, self.emotion_model_id = load_emotion_encoder(root)

    def emotion_vector(self, mood: str | None, reference: np.ndarray | None) -> torch.Tensor:
        return self.emotion.encode(mood=mood, reference=reference)

    def synthesize(
        self,
        mood: str | None = "happy",
        seconds: float = 2.0,
        seed: int = 0,
        temperature: float = 1.0,
        contour_temperature: float | None = None,
        reference: np.ndarray | None = None,
        progress: Callable[[int, int], None] | None = None,
        vocoder: str = "wavenet",
        contour_guidance: float | None = None,
    ) -> SynthResult:
        """A new meow; ``progress(done, total)`` is called as samples are generated.

        ``contour_temperature`` and ``contour_guidance`` (default: the shipped config's, which
        the same weights always pair with) set how the mel prior samples; guidance strengthens
        the mood in the contour (see :mod:`ml.synth.prior`).

        ``vocoder="griffin-lim"`` renders the same mel contour without the WaveNet (a diagnostic:
        it separates what the mel prior got right from what the WaveNet renders).
        """
        if vocoder not in ("wavenet", "griffin-lim"):
            raise ValueError(f"unknown vocoder {vocoder!r}: wavenet or griffin-lim")
        _check_seconds(seconds)
        if contour_temperature is None:
            contour_temperature = self.contour_temperature
        guidance = self.contour_guidance if contour_guidance is None else contour_guidance
        if temperature <= 0 or contour_temperature < 0:
            raise ValueError("temperatures must be positive")
        if guidance < 0:
            raise ValueError(f"contour guidance must be >= 0, got {guidance:g}")
        if mood is not None:
            mood = mood_name(mood_index(mood))
        e = self.emotion_vector(mood, reference)
        samples = round(seconds * 16000)
        mel = self.contour(e, frames_for(samples), seed, contour_temperature, guidance)
        if vocoder == "griffin-lim":
            wave = peak_normalise(griffin_lim(mel, samples, seed=seed))
            if progress is not None:
                progress(samples, samples)
        else:
            classes = self.generator.generate(
                mel,
                e,
                samples,
                seed,
                temperature,
                progress=None if progress is None else (lambda done: progress(done, samples)),
            )
            wave = np.asarray(mu_law_decode(classes), dtype=np.float32)
        return SynthResult(
            wave=wave,
            mood=mood if mood is not None else "reference",
            seed=seed,
            temperature=temperature,
            model_id=self.model_id,
            emotion_model_id=self.emotion_model_id,
            extra={
                "contour_temperature": contour_temperature,
                "contour_guidance": guidance,
                "vocoder": vocoder,
            },
        )

    def contour(
        self,
        emotion: torch.Tensor,
        frames: int,
        seed: int,
        temperature: float | None = None,
        guidance: float | None = None,
    ) -> torch.Tensor:
        """The mel prior's ``[N_MELS, frames]`` contour (the shipped sampling settings by default)."""
        temperature = self.contour_temperature if temperature is None else temperature
        guidance = self.contour_guidance if guidance is None else guidance
        if isinstance(self.prior, FlowPrior):
            return self.prior.sample(
                emotion, frames, seed, temperature, guidance, self.contour_steps
            )
        return self.prior.sample(emotion, frames, seed, temperature, guidance)

    def vocode(
        self, mel: torch.Tensor, emotion: torch.Tensor, samples: int, seed: int
    ) -> np.ndarray:
        """Use the WaveNet as a mel-conditioned vocoder (for style transfer with --vocoder wavenet)."""
        classes = self.generator.generate(mel, emotion, samples, seed, 1.0)
        return np.asarray(mu_law_decode(classes), dtype=np.float32)


class VoiceToCat:
    """The shipped voice-to-cat generator.

    ``strength`` (the shipped config's ``sampling.style_strength`` unless given) scales the
    generator's change to the voice's log-mel: ``voice + strength * (generated - voice)``. Above 1
    it extrapolates past the generator's output, away from the voice; the input's frame
    energies are re-applied afterwards either way, so the rhythm is kept.
    """

    def __init__(self, root: Path | None = None) -> None:
        folder = _folder(STYLE_DIR, root)
        config = json.loads((folder / "config.json").read_text())
        self.strength = shipped_sampling(folder, config).get("style_strength", 1.0)
        self.generator = MelGenerator(StyleConfig.from_dict(config["style"]), conditioned=True)
        self.generator.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
        self.generator.eval()
        self.model_id = sha256_file(folder / WEIGHTS_FILE)
        self.emotion, self.emotion_model_id = load_emotion_encoder(root)
        self.root = root

    @cached_property
    def wavenet_vocoder(self) -> MeowSynthesiser:
        """The shipped WaveNet for ``vocoder="wavenet"``, loaded on first use, then kept."""
        return MeowSynthesiser(self.root)

    def cat_mel(
        self,
        wave: np.ndarray,
        mood: str | None = "happy",
        reference: np.ndarray | None = None,
        strength: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(input log-mel, cat log-mel with the input's frame energies), same frame count."""
        if (mood is None) == (reference is None):
            raise ValueError("give exactly one of a mood or a reference clip")
        strength = self.strength if strength is None else strength
        if not 0.0 <= strength <= 10.0:
            raise ValueError(f"style strength must be between 0 and 10, got {strength:g}")
        if reference is not None:
            p = self.emotion.reference_distribution(reference)
        else:
            p = torch.zeros(len(MOODS))
            p[mood_index(mood)] = 1.0  # type: ignore[arg-type]
        mel_in = log_mel(wave)
        with torch.inference_mode():
            out = self.generator(mel_in[None], p[None])[0]
        out = mel_in + strength * (out - mel_in)
        return mel_in, reapply_envelope(out, mel_in)

    def catify(
        self,
        wave: np.ndarray,
        mood: str | None = "happy",
        reference: np.ndarray | None = None,
        vocoder: str = "griffin-lim",
        seed: int = 0,
        strength: float | None = None,
    ) -> SynthResult:
        """Voice (mono float32, 16 kHz) in, a cat-like sound of the same length out."""
        wave = np.asarray(wave, dtype=np.float32)
        _check_seconds(len(wave) / 16000)
        if mood is not None:
            mood = mood_name(mood_index(mood))
        strength = self.strength if strength is None else strength
        _, mel = self.cat_mel(wave, mood, reference, strength)
        if vocoder == "griffin-lim":
            out = griffin_lim(mel, len(wave), seed=seed)
        elif vocoder == "wavenet":
            e = self.emotion.encode(mood=mood, reference=reference)
            out = self.wavenet_vocoder.vocode(mel, e, len(wave), seed)
        else:
            raise ValueError(f"unknown vocoder {vocoder!r}: griffin-lim or wavenet")
        return SynthResult(
            wave=peak_normalise(out),
            mood=mood if mood is not None else "reference",
            seed=seed,
            temperature=1.0,
            model_id=self.model_id,
            emotion_model_id=self.emotion_model_id,
            extra={"vocoder": vocoder, "style_strength": strength},
        )
