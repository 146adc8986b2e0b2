"""The sentence model: how likely a candidate sentence is to hold the answer, from its
features (`extractive.FEATURES`), by logistic regression with weights fitted on the dev
sets' questions — not set by hand. `benchmarks/fit_answerer.py` fits it and writes
`sentence_model.json` beside this file, with what it was fitted on and how it held up on the
questions kept apart."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    # Whether to decline a question: a logistic model of four signals of its candidates —
    # the lead's probability, the closest meaning (cosine), the best coverage of the
    # question's weighted words, the least share of its names a passage leaves out — gives the probability that the articles answer it;
    # under `min_probability` the answerer declines (off-topic questions, among others).
    decline: dict[str, Any]
    about: dict[str, Any]
    # Whether the question is about news at all, from its embedding alone: a logistic model
    # (benchmarks/fit_question_gate.py) whose probability under its `min_probability` declines
    # ("What is 17 times 23?" finds passages that share its words). Empty: no gate.
    question_gate: dict[str, Any] = field(default_factory=dict)

    def answerable(self, lead: float, dense: float, coverage: float, missing: float) -> float:
        weights = self.decline.get("weights", [0.0, 0.0, 0.0, 0.0])
        z = self.decline.get("bias", 40.0) + sum(
            w * v for w, v in zip(weights, (lead, dense, coverage, missing), strict=True)
        )
        return _logistic(z)

    def news_question(self, vector: Sequence[float]) -> float:
        """The gate's probability that a question (its unit embedding) is about the news."""
        weights = self.question_gate.get("weights")
        if not weights:
            return 1.0
        z = self.question_gate["bias"] + sum(w * v for w, v in zip(weights, vector, strict=True))
        return _logistic(z)

    @property
    def min_news_question(self) -> float:
        return float(self.question_gate.get("min_probability", 0.0))

    @property
    def min_answerable(self) -> float:
        return float(self.decline.get("min_probability", 0.0))

    def probability(self, values: Sequence[float]) -> float:
        z = self.bias + sum(
            w * (v - m) / s
            for w, v, m, s in zip(self.weights, values, self.means, self.scales, strict=True)
        )
        return _logistic(z)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": list(self.weights),
            "bias": self.bias,
            "means": list(self.means),
            "scales": list(self.scales),
            "decline": self.decline,
            "about": self.about,
            "question_gate": self.question_gate,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceModel:
        return cls(
            features=tuple(data["features"]),
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            means=tuple(float(m) for m in data["means"]),
            scales=tuple(float(s) for s in data["scales"]),
            decline=dict(data.get("decline", {})),
            about=dict(data.get("about", {})),
            question_gate=dict(data.get("question_gate", {})),
        )


def _logistic(z: float) -> float:
    """1 / (1 + e^-z), with z clamped so that exp never overflows."""
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


@cache
def packaged_model() -> SentenceModel:
    raw = resources.files("retrieval.answer").joinpath("sentence_model.json").read_text("utf-8")
    return SentenceModel.from_json(json.loads(raw))
