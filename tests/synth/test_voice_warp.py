"""Voice augmentation for the style GAN: band warping and speakers kept back for validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.synth.corpus import Corpus
from ml.synth.mel import N_MELS, bands_below, warp_bands
from ml.synth.train_style import voice_indices


def test_bands_below_counts_the_bands_a_band_limited_voice_can_fill() -> None:
    top = bands_below(4000.0)
    assert 0 < top < N_MELS
    assert bands_below(8000.0) == N_MELS and bands_below(0.0) == 0
    assert bands_below(3000.0) < top


def test_a_warp_moves_a_formant_and_keeps_the_cut_off() -> None:
    top = bands_below(4000.0)
    mel = torch.full((N_MELS, 5), -1.0)
    mel[20] = 1.0  # one formant-like peak
    mel[top:] = -3.0  # the empty band above the voice's cut-off
    assert torch.equal(warp_bands(mel, 1.0, top), mel)
    up, down = warp_bands(mel, 1.2, top), warp_bands(mel, 0.8, top)
    assert int(up[:top, 0].argmax()) == 24 and int(down[:top, 0].argmax()) == 16
    assert torch.equal(up[top:], mel[top:]) and torch.equal(down[top:], mel[top:])
    batch = torch.stack([mel, mel])  # works on a batch too
    assert torch.equal(warp_bands(batch, 1.2, top)[1], up)
    with pytest.raises(ValueError, match="positive"):
        warp_bands(mel, 0.0, top)


def _voices() -> Corpus:
    speakers = ["george", "nicolas", "george", "theo", "nicolas"]
    return Corpus(
        audio=np.zeros(5, dtype=np.int16),
        offsets=np.arange(6, dtype=np.int64),
        labels=np.zeros(5, dtype=np.int64),
        parts=np.array(["train", "train", "train", "test", "train"]),
        groups=np.array([f"speech-fsdd:{s}" for s in speakers]),
    )


def test_a_kept_back_speaker_is_never_read_and_a_typo_is_an_error() -> None:
    voices = _voices()
    assert voice_indices(voices, set()).tolist() == [0, 1, 2, 4]
    assert voice_indices(voices, {"nicolas"}).tolist() == [0, 2]
    with pytest.raises(SystemExit, match="nicolaz"):
        voice_indices(voices, {"nicolaz"})
    with pytest.raises(SystemExit, match="theo"):  # a held-out speaker is not a training one
        voice_indices(voices, {"theo"})
