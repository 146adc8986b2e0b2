"""The sentence model: how likely a candidate sentence is to hold the answer, from its
features (`extractive.FEATURES`), by logistic regression with weights fitted on the dev
sets' questions — not set by hand. `benchmarks/fit_answerer.py` fits it and writes
`sentence_model.json` beside this file, with what it was fitted on and how it held up on the
questions kept apart."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["SentenceModel", "packaged_model"]


@dataclass(frozen=True)
class SentenceModel:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    # features are standardised before weighting (the fit's means and deviations)
    means: tuple[float, ...]
    scales: tuple[float, ...]
    # The answerer declines when its lead sentence's probability is under `min_score`, or
    # no candidate comes closer in meaning than `min_dense` (cosine), or none covers more
    # than `min_coverage` of the question's weighted words: off-topic questions.
    min_score: float
    min_dense: float
    min_coverage: float
    about: dict[str, Any]

    def probability(self, values: Sequence[float]) -> float:
        z = self.bias + sum(
            w * (v - m) / s
            for w, v, m, s in zip(self.weights, values, self.means, self.scales, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": list(self.weights),
            "bias": self.bias,
            "means": list(self.means),
            "scales": list(self.scales),
            "min_score": self.min_score,
            "min_dense": self.min_dense,
            "min_coverage": self.min_coverage,
            "about": self.about,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceModel:
        return cls(
            features=tuple(data["features"]),
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            means=tuple(float(m) for m in data["means"]),
            scales=tuple(float(s) for s in data["scales"]),
            min_score=float(data["min_score"]),
            min_dense=float(data.get("min_dense", 0.0)),
            min_coverage=float(data.get("min_coverage", 0.0)),
            about=dict(data.get("about", {})),
        )


@cache
def packaged_model() -> SentenceModel:
    raw = resources.files("retrieval.answer").joinpath("sentence_model.json").read_text("utf-8")
    return SentenceModel.from_json(json.loads(raw))
