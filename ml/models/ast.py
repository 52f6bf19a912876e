"""The labeller: ``transformers`` ``ASTForAudioClassification`` sized for two CPU cores.

No pretrained AST weights can be had here, so the model is small (4 layers, 192 wide, 3 heads)
and patches do not overlap (16 x 16 with stride 16: 8 frequency x 31 time patches for 5 s),
which keeps a clip at about 10 ms on a laptop core. The class wraps the ``transformers`` model
rather than copying it, and adds what the project needs around it: sliding windows so any clip
length works, typed outputs, and a config that round-trips through ``config.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from transformers import ASTConfig, ASTForAudioClassification

NUM_MEL_BINS = 128


@dataclass(frozen=True)
class ASTSize:
    """Architecture knobs of the CPU-sized AST (everything else is the ``transformers`` default)."""

    layers: int = 4
    hidden: int = 192
    heads: int = 3
    patch: int = 16
    stride: int = 16
    max_length: int = 300
    """Frames per window (10 ms hop): the model sees 3 s at a time; longer clips are windowed."""
    dropout: float = 0.1

    def to_config(self, labels: list[str]) -> ASTConfig:
        return ASTConfig(
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            intermediate_size=4 * self.hidden,
            hidden_dropout_prob=self.dropout,
            attention_probs_dropout_prob=self.dropout,
            patch_size=self.patch,
            frequency_stride=self.stride,
            time_stride=self.stride,
            max_length=self.max_length,
            num_mel_bins=NUM_MEL_BINS,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)

    @classmethod
    def for_window(cls, fields: dict[str, int | float], frames: int) -> ASTSize:
        """The size a run's config describes (``ast_size`` fields) at its window length."""
        return cls(**{**fields, "max_length": frames})  # type: ignore[arg-type]


@dataclass
class ClassifierOutput:
    """Logits per window (``[batch, classes]``) and the pooled embedding they came from.

    ``teacher_logits`` are a distilled model's guesses at the teacher's scores (training only).
    """

    logits: torch.Tensor
    embedding: torch.Tensor | None = None
    teacher_logits: torch.Tensor | None = None


class ASTClassifier(nn.Module):
    """``ASTForAudioClassification`` over fixed-length log-mel windows ``[batch, frames, 128]``."""

    input_kind = "logmel"

    def __init__(
        self, labels: list[str], size: ASTSize | None = None, teacher_outputs: int = 0
    ) -> None:
        super().__init__()
        self.size = size or ASTSize()
        self.labels = list(labels)
        self.ast = ASTForAudioClassification(self.size.to_config(self.labels))
        self._init_tokens()
        # DeiT-style distillation: the AST's own distillation token learns the teacher's scores
        # (training only; labels come from the classifier on the pooled cls + distillation tokens)
        self.teacher_outputs = teacher_outputs
        self.teacher_head = (
            nn.Linear(self.size.hidden, teacher_outputs) if teacher_outputs else None
        )

    @property
    def window_frames(self) -> int:
        return self.size.max_length

    def _init_tokens(self) -> None:
        # transformers zero-initialises these because it expects pretrained weights; trained from
        # scratch, zero position embeddings make every patch look the same to the first layer.
        emb = self.ast.audio_spectrogram_transformer.embeddings
        for param in (emb.position_embeddings, emb.cls_token, emb.distillation_token):
            nn.init.trunc_normal_(param, std=0.02)

    def forward(self, features: torch.Tensor) -> ClassifierOutput:
        if features.ndim != 3 or features.shape[1:] != (self.size.max_length, NUM_MEL_BINS):
            raise ValueError(
                f"expected [batch, {self.size.max_length}, {NUM_MEL_BINS}] log-mel windows, "
                f"got {list(features.shape)}"
            )
        backbone = self.ast.audio_spectrogram_transformer(features)
        pooled = backbone.pooler_output
        teacher = None
        if self.teacher_head is not None:
            teacher = self.teacher_head(backbone.last_hidden_state[:, 1])  # distillation token
        return ClassifierOutput(
            logits=self.ast.classifier(pooled), embedding=pooled, teacher_logits=teacher
        )

    def config_dict(self) -> dict[str, object]:
        return {
            "arch": "ast",
            "size": self.size.to_dict(),
            "labels": self.labels,
            "teacher_outputs": self.teacher_outputs,
        }

    @classmethod
    def from_config_dict(cls, config: dict[str, object]) -> ASTClassifier:
        size = ASTSize(**config["size"])  # type: ignore[arg-type]
        teacher = int(config.get("teacher_outputs", 0))  # type: ignore[call-overload]
        return cls(list(config["labels"]), size, teacher)  # type: ignore[arg-type]
