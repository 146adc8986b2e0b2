"""Fit the question gate: is this a question about the news at all?

The decline model (`fit_answerer.py`) reads the retrieved passages, and a question about
something no news article covers ("What is 17 times 23?", "How do I bake banana bread?") often
finds a passage that shares its words. The gate reads the question alone: a logistic
regression (L2, Newton's method, as `fit_answerer.fit`) over the question's embedding — the
vector retrieval computes anyway, so it costs nothing at query time. Positives are the news
questions of the dev sets (answerable from their corpus or not: they are all about news);
negatives the off-topic training questions (evals/offtopic_train_questions.jsonl and
evals/offtopic_gate_train_questions.jsonl; never the off-topic eval set). Questions whose id hashes into the held-out fifth are kept apart.

The L2 strength is chosen by 5-fold cross-validation on the training part: the one whose
out-of-fold probabilities decline the most off-topic questions at the cut that declines at most
`--max-news-declined` of the news questions. The cut is that quantile of the out-of-fold news
probabilities. Writes the gate into retrieval/answer/sentence_model.json (`question_gate`),
with a report of the held-out news questions it declines.

    python benchmarks/fit_question_gate.py QUESTIONS... --off-topic OFF_TOPIC_TRAIN ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fit_answerer import fit, in_training_part  # noqa: E402

from retrieval.build import load_embeddings  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.evaluation.run import load_questions  # noqa: E402

L2_CHOICES = (0.01, 0.1, 1.0, 10.0)
FOLDS = 5


def probabilities(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ weights + bias)))


def balanced(y: np.ndarray) -> np.ndarray:
    """Weights that give the off-topic questions, few as they are, the news questions' weight."""
    return np.where(y == 1, 1.0, (y == 1).sum() / max(1, (y == 0).sum()))


def out_of_fold(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    folds = np.arange(len(y)) % FOLDS
    found = np.zeros(len(y))
    for fold in range(FOLDS):
        train = folds != fold
        weights, bias = fit(x[train], y[train], balanced(y[train]), l2)
        found[~train] = probabilities(x[~train], weights, bias)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="+", type=Path, help="news question sets (eval format)")
    parser.add_argument("--off-topic", type=Path, action="append", required=True)
    parser.add_argument("--max-news-declined", type=float, default=0.005)
    parser.add_argument("--out", type=Path, default=ROOT / "retrieval/answer/sentence_model.json")
    args = parser.parse_args()

    news = [q for path in args.questions for q in load_questions(path)]
    off_topic = [q for path in args.off_topic for q in load_questions(path)]
    texts = [q.question for q in news] + [q.question for q in off_topic]
    settings = Settings()
    embeddings = load_embeddings(settings)
    x = embeddings.encode(texts).astype(float)
    y = np.array([1.0] * len(news) + [0.0] * len(off_topic))
    train = np.array([in_training_part(q.id) for q in news] + [True] * len(off_topic))
    rng = np.random.default_rng(7)
    order = rng.permutation(np.flatnonzero(train))  # folds mix the sets
    xt, yt = x[order], y[order]

    def cut_and_declined(found: np.ndarray) -> tuple[float, float]:
        cut = float(np.quantile(found[yt == 1], args.max_news_declined))
        return cut, float((found[yt == 0] < cut).mean())

    tried = {}
    for l2 in L2_CHOICES:
        tried[l2] = cut_and_declined(out_of_fold(xt, yt, l2))
        print(f"l2 {l2}: cut {tried[l2][0]:.4f}, off-topic declined (CV) {tried[l2][1]:.3f}")
    l2 = max(L2_CHOICES, key=lambda value: (tried[value][1], value))
    cut = tried[l2][0]
    weights, bias = fit(xt, yt, balanced(yt), l2)
    held = ~train
    declined = probabilities(x[held], weights, bias) < cut
    held_out = [q for q, h in zip(news + off_topic, held, strict=True) if h]
    report = {
        "news_questions": len(news),
        "off_topic_questions": len(off_topic),
        "l2": l2,
        "cross_validated_off_topic_declined": round(tried[l2][1], 4),
        "held_out_news_questions": int(held.sum()),
        "held_out_news_declined": int(declined.sum()),
        "held_out_declined_examples": [
            q.question for q, d in zip(held_out, declined, strict=True) if d
        ][:10],
    }
    model = json.loads(args.out.read_text("utf-8"))
    model["question_gate"] = {
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "min_probability": round(cut, 6),
        "about": {
            "fitted_by": "benchmarks/fit_question_gate.py",
            "embedding_model": embeddings.model_name,
            "sets": [str(p) for p in args.questions + args.off_topic],
            "max_news_declined": args.max_news_declined,
            "report": report,
        },
    }
    args.out.write_text(json.dumps(model, indent=1) + "\n", "utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
