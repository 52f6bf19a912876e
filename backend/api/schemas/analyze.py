"""Models of ``POST /v1/analyze`` (and of the predictions ``WS /v1/analyze/stream`` sends)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TaskPrediction(BaseModel):
    """One model's verdict on the clip."""

    task: str = Field(examples=["cat-emotion"])
    label: str = Field(examples=["hunting_mind"])
    display_label: str = Field(description="The name people see", examples=["curious"])
    confidence: float = Field(description="Probability of `label`", ge=0, le=1)
    probabilities: dict[str, float] = Field(description="Every label of the task, in its order")
    model_id: str = Field(description="sha256 of the model's weights file (0x hex)")


class AnalyzeResponse(BaseModel):
    """The verdicts on a clip: `source` first, then the task its source routes to (if shipped)."""

    task: str = Field(description="Task of the most specific verdict", examples=["cat-emotion"])
    label: str = Field(description="Label of the most specific verdict", examples=["happy"])
    display_label: str
    predictions: list[TaskPrediction]
    format: str = Field(description="The container, sniffed from its bytes", examples=["wav"])
    duration_s: float = Field(description="Seconds of audio analysed")
    elapsed_ms: float = Field(description="Model time (features and inference), not decoding")
