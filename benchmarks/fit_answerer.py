"""Fit the extractive answerer's sentence model on the dev sets' questions.

For every question of each set, the passages retrieval gives it (the configured top k) and
the candidate sentences the answerer embeds are turned into features
(`retrieval.answer.extractive.FEATURES`); a sentence is a positive when it contains a gold
answer (the eval's "contains" rule). A logistic regression (L2, Newton's method, features
standardised) is fitted on the questions whose id hashes into the training part (80%) and
checked on the rest, per set. A second model, over the questions, decides when to decline;
its threshold is the highest
that keeps false abstention at or under `--max-false-abstain` on every training set.
Writes retrieval/answer/sentence_model.json.

    python benchmarks/fit_answerer.py NAME=QUESTIONS:STORE_DIR[:BACKEND] ...

STORE_DIR is a store `newsbot eval` built (its eval-cache folder for the corpus).

`--off-topic QUESTIONS` also asks each set's store those questions (e.g.
evals/offtopic_train_questions.jsonl: not the off-topic eval set) and counts them among the
set's unanswerable questions when the decline model is fitted and its cut chosen; the sentence
model is fitted without them. The report gives each set's `off_topic_declined`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.answer.extractive import (  # noqa: E402
    BASE_FEATURES,
    FEATURES,
    ExtractiveAnswerer,
    model_inputs,
)
from retrieval.answer.sentence_model import SentenceModel  # noqa: E402
from retrieval.build import build_service, load_embeddings  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.evaluation.run import contains_answer, load_questions  # noqa: E402


@dataclass
class Question:
    set: str
    id: str
    answerable: bool
    train: bool
    x: np.ndarray  # candidates × features
    y: np.ndarray  # candidate holds a gold answer
    off_topic: bool = False  # from --off-topic: for the decline model only


def in_training_part(question_id: str) -> bool:
    return int(hashlib.sha256(question_id.encode()).hexdigest(), 16) % 5 != 0


def collect(name: str, questions_path: Path, store: Path, backend: str) -> list[Question]:
    settings = Settings(data_dir=store, embedding_backend=backend)  # type: ignore[arg-type]
    service = build_service(settings, embeddings=load_embeddings(settings))
    answerer = service.pipeline.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    rows = []
    try:
        for q in load_questions(questions_path):
            passages = service.retrieve(q.question, k=settings.top_k)
            found = answerer.features(q.question, passages)
            x = np.array([f for _, _, f in found], dtype=float).reshape(-1, len(FEATURES))
            y = np.array([any(contains_answer(t, g) for g in q.answers) for t, _, _ in found])
            rows.append(Question(name, q.id, q.answerable, in_training_part(q.id), x, y))
    finally:
        service.close()
    return rows


def fit(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1.0
) -> tuple[np.ndarray, float]:
    """Weighted logistic regression by Newton's method on standardised x."""
    n, d = x.shape
    a = np.hstack([np.ones((n, 1)), x])
    w = np.zeros(d + 1)
    penalty = np.eye(d + 1) * l2
    penalty[0, 0] = 0.0
    for _ in range(60):
        p = 1 / (1 + np.exp(-(a @ w)))
        gradient = a.T @ (weight * (p - y)) + penalty @ w
        hessian = a.T @ (a * (weight * p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[1:], float(w[0])


def lead_right(model: SentenceModel, q: Question) -> bool:
    if not len(q.y):
        return False
    scores = [model.probability(row) for row in q.x]
    return bool(q.y[int(np.argmax(scores))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="NAME=QUESTIONS:STORE_DIR[:BACKEND]")
    parser.add_argument("--max-false-abstain", type=float, default=0.08)
    parser.add_argument(
        "--off-topic", type=Path, default=None, help="off-topic questions asked of every set"
    )
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=ROOT / "retrieval/answer/sentence_model.json")
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep the collected features here (pickle)"
    )
    args = parser.parse_args()
    questions: list[Question] = []
    if args.cache is not None and args.cache.exists():
        questions = pickle.loads(args.cache.read_bytes())
    else:
        for spec in args.sets:
            name, _, rest = spec.partition("=")
            parts = rest.split(":")
            backend = parts[2] if len(parts) > 2 else "torch"
            questions += collect(name, Path(parts[0]), Path(parts[1]), backend)
            if args.off_topic is not None:
                for q in collect(name, args.off_topic, Path(parts[1]), backend):
                    q.off_topic = True
                    questions.append(q)
            print(f"{name}: {sum(q.set == name for q in questions)} questions", file=sys.stderr)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(questions))
    for q in questions:  # features collected before the products were added
        if q.x.shape[1] == BASE_FEATURES:
            q.x = np.array([model_inputs(row) for row in q.x]).reshape(-1, len(FEATURES))
    train = [q for q in questions if q.train and len(q.y) and not q.off_topic]
    x = np.vstack([q.x for q in train])
    y = np.concatenate([q.y for q in train]).astype(float)
    # Each set weighs the same, however many questions it has: 1,250 short RealTime QA
    # snippets would otherwise teach the model little about full pages or BBC articles.
    sizes = {name: sum(q.set == name for q in train) for name in {q.set for q in train}}
    weight = np.concatenate(
        [np.full(len(q.y), len(train) / (len(sizes) * sizes[q.set])) for q in train]
    )
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    weights, bias = fit((x - means) / scales, y, weight, args.l2)
    model = SentenceModel(
        tuple(FEATURES), tuple(weights), bias, tuple(means), tuple(scales), {}, {}
    )

    # When to decline: a second, question-level logistic model reads four signals of the
    # candidates — the lead's probability, the closest meaning, the best coverage of the
    # question's words, the least share of its names a passage leaves out — and says how likely the question is answerable from them. The
    # answerer declines below the cut that declines the most unanswerable training questions
    # (the mean over the sets) while false abstention stays at most max_false_abstain on
    # every set.
    def signals(q: Question) -> tuple[float, float, float, float]:
        if not len(q.y):
            return 0.0, 0.0, 0.0, 1.0
        probs = [model.probability(r) for r in q.x]
        coverage = 0.6 * q.x[:, 1] + 0.4 * q.x[:, 2]
        missing = q.x[:, FEATURES.index("missing_names")]
        return max(probs), float(q.x[:, 0].max()), float(coverage.max()), float(missing.min())

    sig = {id(q): np.array(signals(q)) for q in questions}
    names = sorted({q.set for q in questions})
    train_q = [q for q in questions if q.train]
    sx = np.vstack([sig[id(q)] for q in train_q])
    sy = np.array([q.answerable for q in train_q], dtype=float)
    sizes_q = {name: sum(q.set == name for q in train_q) for name in names}
    sw = np.array([len(train_q) / (len(names) * sizes_q[q.set]) for q in train_q])
    decline_weights, decline_bias = fit(sx, sy, sw, args.l2)

    def answerable_p(q: Question) -> float:
        z = decline_bias + float(sig[id(q)] @ decline_weights)
        return 1 / (1 + np.exp(-z))

    ap = {id(q): answerable_p(q) for q in questions}
    min_answerable = 0.0
    best_gain = -1.0
    for cut in sorted({round(v, 4) for v in ap.values()}):
        gain, ok = 0.0, True
        for name in names:
            part = [q for q in train_q if q.set == name]
            answerable = [q for q in part if q.answerable]
            unanswerable = [q for q in part if not q.answerable]
            if sum(ap[id(q)] < cut for q in answerable) / max(1, len(answerable)) > (
                args.max_false_abstain
            ):
                ok = False
                break
            if unanswerable:
                gain += sum(ap[id(q)] < cut for q in unanswerable) / len(unanswerable)
        if not ok:
            break
        if gain > best_gain:
            min_answerable, best_gain = cut, gain

    def declines(q: Question, _: object = None) -> bool:
        return ap[id(q)] < min_answerable

    best_cut = None
    report: dict[str, dict[str, float]] = {}
    for name in sorted({q.set for q in questions}):
        for part, flag in (("train", True), ("held_out", False)):
            everything = [q for q in questions if q.set == name and q.train is flag]
            subset = [q for q in everything if not q.off_topic]
            off_topic = [q for q in everything if q.off_topic]
            answerable = [q for q in subset if q.answerable]
            unanswerable = [q for q in subset if not q.answerable]
            report[f"{name}/{part}"] = {
                "questions": len(subset),
                "lead_holds_gold": round(
                    sum(lead_right(model, q) for q in answerable) / max(1, len(answerable)), 4
                ),
                "false_abstain": round(
                    sum(declines(q, best_cut) for q in answerable) / max(1, len(answerable)), 4
                ),
                "unanswerable_declined": round(
                    sum(declines(q, best_cut) for q in unanswerable) / max(1, len(unanswerable)),
                    4,
                )
                if unanswerable
                else None,
            }
            if off_topic:
                report[f"{name}/{part}"]["off_topic_declined"] = round(
                    sum(declines(q, best_cut) for q in off_topic) / len(off_topic), 4
                )
    model = SentenceModel(
        model.features,
        tuple(round(w, 6) for w in weights),
        round(bias, 6),
        tuple(round(m, 6) for m in means),
        tuple(round(s, 6) for s in scales),
        {
            "weights": [round(float(w), 6) for w in decline_weights],
            "bias": round(decline_bias, 6),
            "min_probability": min_answerable,
        },
        {
            "fitted_by": "benchmarks/fit_answerer.py",
            "embedding_model": Settings().embedding_model,
            "sets": sorted({q.set for q in questions}),
            "training_sentences": len(y),
            "positives": int(y.sum()),
            "l2": args.l2,
            "max_false_abstain": args.max_false_abstain,
            "report": report,
        },
        # the question gate is fitted apart (benchmarks/fit_question_gate.py): kept
        json.loads(args.out.read_text()).get("question_gate", {}) if args.out.exists() else {},
    )
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
    print(
        json.dumps(
            {
                "weights": dict(zip(FEATURES, model.weights, strict=True)),
                "decline": {
                    "weights": list(decline_weights),
                    "bias": decline_bias,
                    "min_probability": min_answerable,
                },
                "report": report,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
