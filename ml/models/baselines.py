"""Baselines reported beside every AST number (from the infant-cry project this grew from).

- :class:`MfccCNN`: MFCC frames into a small VGG-style CNN (3x3 convolutions, batch norm, pooling).
- :class:`YamnetDNN`: a two-layer perceptron on YAMNet's 521 class scores, mean- and max-pooled
  over the clip (this YAMNet conversion exports no embedding, so the scores stand in for it).
- :class:`MajorityClass`: always the most frequent training label.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ml.models.ast import ClassifierOutput

N_MFCC = 40
DEFAULT_CNN_CHANNELS = (16, 32, 64)  # one VGG block per width (dog-bark ships four: its card)
YAMNET_CLASSES = 521


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


def check_cnn_depth(blocks: int, window_frames: int) -> None:
    """Refuse more VGG blocks than a window can be pooled by: each block halves both axes, so
    40 MFCCs allow five, and a window of ``window_frames`` needs ``2 ** blocks`` frames."""
    smallest = min(N_MFCC, window_frames)
    if blocks < 1 or smallest >> blocks < 1:
        most = smallest.bit_length() - 1
        raise ValueError(
            f"{blocks} CNN blocks halve {N_MFCC} MFCCs x {window_frames} frames to nothing: "
            f"give 1 to {most} widths"
        )


class MfccCNN(nn.Module):
    """VGG-style CNN over MFCC windows ``[batch, frames, n_mfcc]``.

    With ``teacher_outputs`` it has a second head that learns the YAMNet teacher's pooled scores
    from the same embedding (knowledge distillation, :mod:`ml.train`); labelling never uses it,
    unless ``labels_from_teacher``: then the labels are read from that head's scores alone, by a
    small perceptron behind a stop-gradient, so the convolutions learn only to hear what YAMNet
    hears (the YAMNet-score DNN kept cats from an unheard setup where label-trained CNNs lost
    them: the source card; the dog-bark card has the student that shipped).
    """

    input_kind = "mfcc"

    def __init__(
        self,
        labels: Sequence[str],
        window_frames: int = 300,
        channels: Sequence[int] = DEFAULT_CNN_CHANNELS,
        dropout: float = 0.3,
        teacher_outputs: int = 0,
        labels_from_teacher: bool = False,
        label_hidden: int = 256,
    ) -> None:
        super().__init__()
        check_cnn_depth(len(channels), window_frames)
        if labels_from_teacher and not teacher_outputs:
            raise ValueError("labels_from_teacher needs the teacher head (teacher_outputs > 0)")
        self.labels = list(labels)
        self.window_frames = window_frames
        self.channels = list(channels)
        self.teacher_outputs = teacher_outputs
        self.labels_from_teacher = labels_from_teacher
        self.label_hidden = label_hidden
        blocks, c_in = [], 1
        for c_out in self.channels:
            blocks.append(_conv_block(c_in, c_out))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.teacher_head = nn.Linear(c_in, teacher_outputs) if teacher_outputs else None
        if labels_from_teacher:
            self.head = nn.Sequential(
                nn.Linear(teacher_outputs, label_hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(label_hidden, len(self.labels)),
            )
        else:
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, len(self.labels)))

    def forward(self, features: torch.Tensor) -> ClassifierOutput:
        if features.ndim != 3 or features.shape[2] != N_MFCC:
            raise ValueError(f"expected [batch, frames, {N_MFCC}] MFCC, got {list(features.shape)}")
        x = self.features(features.unsqueeze(1))
        pooled = x.mean(dim=(2, 3))
        teacher = self.teacher_head(pooled) if self.teacher_head is not None else None
        if self.labels_from_teacher and teacher is not None:
            logits = self.head(torch.sigmoid(teacher).detach())
        else:
            logits = self.head(pooled)
        return ClassifierOutput(logits=logits, embedding=pooled, teacher_logits=teacher)

    def for_inference(self) -> MfccCNN:
        """An eval-mode copy for labelling: each BatchNorm folded into the convolution before it,
        weights channels-last.

        oneDNN runs both faster on CPU (the source model, a 5 s clip, one thread: 26 ms as
        trained, 11 ms channels-last, 8.5 ms folded too), and the probabilities match the
        trained layout to float rounding (3.9e-7 measured). Training keeps the plain model.
        """
        fused = copy.deepcopy(self).eval()
        for index, block in enumerate(fused.features):
            kept: list[nn.Module] = []
            for layer in block:
                if isinstance(layer, nn.BatchNorm2d) and kept and isinstance(kept[-1], nn.Conv2d):
                    kept[-1] = fuse_conv_bn_eval(kept[-1], layer)
                else:
                    kept.append(layer)
            fused.features[index] = nn.Sequential(*kept)
        return fused.to(memory_format=torch.channels_last)

    def config_dict(self) -> dict[str, object]:
        return {
            "arch": "mfcc_cnn",
            "labels": self.labels,
            "window_frames": self.window_frames,
            "channels": self.channels,
            "teacher_outputs": self.teacher_outputs,
            **(
                {"labels_from_teacher": True, "label_hidden": self.label_hidden}
                if self.labels_from_teacher
                else {}
            ),
        }

    @classmethod
    def from_config_dict(cls, config: dict[str, object]) -> MfccCNN:
        return cls(
            list(config["labels"]),  # type: ignore[arg-type]
            window_frames=int(config["window_frames"]),  # type: ignore[arg-type]
            channels=list(config["channels"]),  # type: ignore[arg-type]
            teacher_outputs=int(config.get("teacher_outputs", 0)),  # type: ignore[arg-type]
            labels_from_teacher=bool(config.get("labels_from_teacher", False)),
            label_hidden=int(config.get("label_hidden", 256)),  # type: ignore[arg-type]
        )


class YamnetDNN(nn.Module):
    """MLP over clip-level YAMNet scores ``[batch, 2 * 521]`` (mean then max over windows)."""

    input_kind = "yamnet"

    def __init__(self, labels: Sequence[str], hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        self.labels = list(labels)
        self.hidden = hidden
        self.net = nn.Sequential(
            nn.Linear(2 * YAMNET_CLASSES, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )
        self.head = nn.Linear(hidden, len(self.labels))

    def forward(self, features: torch.Tensor) -> ClassifierOutput:
        if features.ndim != 2 or features.shape[1] != 2 * YAMNET_CLASSES:
            raise ValueError(
                f"expected [batch, {2 * YAMNET_CLASSES}] pooled YAMNet scores, "
                f"got {list(features.shape)}"
            )
        hidden = self.net(features)
        return ClassifierOutput(logits=self.head(hidden), embedding=hidden)

    def config_dict(self) -> dict[str, object]:
        return {"arch": "yamnet_dnn", "labels": self.labels, "hidden": self.hidden}

    @classmethod
    def from_config_dict(cls, config: dict[str, object]) -> YamnetDNN:
        return cls(list(config["labels"]), hidden=int(config["hidden"]))  # type: ignore[arg-type]


class MajorityClass:
    """The most frequent training label, whatever the input: the floor every model must clear."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.label: str | None = None

    def fit(self, train_labels: Sequence[str]) -> MajorityClass:
        if not train_labels:
            raise ValueError("cannot fit the majority class on no labels")
        self.label = Counter(train_labels).most_common(1)[0][0]
        return self

    def predict(self, n: int) -> list[str]:
        if self.label is None:
            raise RuntimeError("MajorityClass.fit was not called")
        return [self.label] * n
