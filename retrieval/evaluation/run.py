"""`newsbot eval`: ask a question set over a corpus and measure retrieval, answers, abstention.

A gold answer is "contained" in a text when its lower-cased alphanumeric tokens appear there as
a contiguous run ("58%" matches "58 %"; "2" does not match "2024"). Retrieval figures and
answer accuracy are over the answerable questions; abstention figures over both kinds.
Lead accuracy asks the same of the answer's first sentence only (the text before its first
`[n]` marker): the answer is judged by what it leads with.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from retrieval.errors import ArticleError

__all__ = [
    "EvalQuestion",
    "contains_answer",
    "details",
    "eval_store_settings",
    "gold_rank",
    "lead_sentence",
    "load_questions",
    "summarise",
]

CACHE_FORMAT = "4"  # bump when what is stored for a corpus changes (4: sentence vectors)


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: list[str]
    answerable: bool
    asked_on: date | None = None  # the day the question was asked, when the set records it


# RealTime QA ids start with the day the quiz was published, the day its questions are
# asked: "20240105_3_nota". Its question files have no date field.
_DAY_IN_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})_")


def _asked_on(record: dict[str, Any]) -> date | None:
    """A row's question date (`asked_on` or `date`, else the `YYYYMMDD_` an id starts with):
    "this week" means the week of asking, never the week the eval happens to run. An id
    whose digits are not a real day gives None."""
    value = record.get("asked_on") or record.get("date")
    if value:
        return date.fromisoformat(str(value)[:10])
    match = _DAY_IN_ID.match(str(record.get("id", "")))
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


@dataclass(frozen=True)
class Outcome:
    """What one system did with one question."""

    question: EvalQuestion
    passages: list[str]  # ranked passage texts, best first (up to 10)
    answer: str
    abstained: bool
    latency_ms: float


def answer_tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def contains_answer(text: str, gold: str) -> bool:
    needle = answer_tokens(gold)
    if not needle:
        return False
    hay = answer_tokens(text)
    width = len(needle)
    return any(hay[i : i + width] == needle for i in range(len(hay) - width + 1))


def _contains_any(text: str, answers: Sequence[str]) -> bool:
    return any(contains_answer(text, gold) for gold in answers)


_MARKER = re.compile(r"\[\d+\]")


def lead_sentence(answer: str) -> str:
    """The answer's first sentence: its text before the first `[n]` marker (all of it when
    it has none, as the baseline's top passage)."""
    return _MARKER.split(answer, maxsplit=1)[0]


def gold_rank(outcome: Outcome) -> int | None:
    """The rank (1-10) of the first passage holding a gold answer, or None."""
    for index, text in enumerate(outcome.passages[:10], start=1):
        if _contains_any(text, outcome.question.answers):
            return index
    return None


def _correct(o: Outcome) -> bool:
    return not o.abstained and _contains_any(o.answer, o.question.answers)


def _lead_correct(o: Outcome) -> bool:
    return not o.abstained and _contains_any(lead_sentence(o.answer), o.question.answers)


def details(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One row per question, for error analysis (`newsbot eval --details FILE`)."""
    return [
        {
            "id": o.question.id,
            "question": o.question.question,
            "answers": o.question.answers,
            "answerable": o.question.answerable,
            "gold_rank": gold_rank(o),
            "answer": o.answer,
            "abstained": o.abstained,
            "correct": _correct(o),
            "lead_correct": _lead_correct(o),
        }
        for o in outcomes
    ]


def load_questions(path: Path) -> list[EvalQuestion]:
    if not path.is_file():
        raise ArticleError(f"{path}: no such questions file")
    questions = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            answers = record.get("answers") or []
            questions.append(
                EvalQuestion(
                    id=str(record.get("id", number)),
                    question=str(record["question"]),
                    answers=[str(a) for a in answers],
                    answerable=bool(record.get("answerable", bool(answers))),
                    asked_on=_asked_on(record),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            raise ArticleError(
                f"{path}:{number}: expected a JSON object with 'question' and 'answers'"
            ) from None
    if not questions:
        raise ArticleError(f"{path}: no questions")
    return questions


def load_corpus(paths: Sequence[Path]) -> list[Any]:
    from retrieval.ingest.articles import load_path

    articles: list[Any] = []
    for path in paths:
        if not path.is_file():
            raise ArticleError(f"{path}: no such corpus file")
        articles.extend(load_path(path))
    return articles


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """The metrics of docs/eval.md over a list of outcomes."""
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]

    ranks = [gold_rank(o) for o in answerable]

    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    def hit(k: int) -> float | None:
        return rate(sum(1 for r in ranks if r is not None and r <= k), len(answerable))

    abstained = [o for o in outcomes if o.abstained]
    correct = sum(1 for o in answerable if _correct(o))
    lead_correct = sum(1 for o in answerable if _lead_correct(o))
    latencies = [o.latency_ms for o in outcomes]
    mrr = statistics.fmean(1 / r if r else 0.0 for r in ranks) if ranks else None
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "retrieval_hit@1": hit(1),
        "retrieval_hit@4": hit(4),
        "retrieval_hit@10": hit(10),
        "mrr@10": round(mrr, 4) if mrr is not None else None,
        "answer_accuracy": rate(correct, len(answerable)),
        "lead_accuracy": rate(lead_correct, len(answerable)),
        "abstain_precision": rate(
            sum(1 for o in abstained if not o.question.answerable), len(abstained)
        ),
        "false_abstain_rate": rate(sum(1 for o in answerable if o.abstained), len(answerable)),
        "unanswerable_abstain_rate": rate(
            sum(1 for o in unanswerable if o.abstained), len(unanswerable)
        ),
        "latency_p50_ms": round(_percentile(latencies, 0.5), 2),
        "latency_p95_ms": round(_percentile(latencies, 0.95), 2),
    }


def abstention_sweep(
    scored: Sequence[tuple[EvalQuestion, float, str]], steps: int = 12
) -> list[dict[str, float | None]]:
    """For thresholds across the lead-sentence scores: what abstaining below each would give."""
    leads = sorted(score for _, score, _ in scored if score != float("-inf"))
    if not leads:
        return []
    cuts = sorted({round(leads[int(i * (len(leads) - 1) / steps)], 3) for i in range(steps + 1)})
    rows = []
    for cut in cuts:
        outcomes = [
            Outcome(q, [], "" if score < cut else text, score < cut, 0.0)
            for q, score, text in scored
        ]
        figures = summarise(outcomes)
        rows.append(
            {
                "min_score": cut,
                "answer_accuracy": figures["answer_accuracy"],
                "false_abstain_rate": figures["false_abstain_rate"],
                "unanswerable_abstain_rate": figures["unanswerable_abstain_rate"],
                "abstain_precision": figures["abstain_precision"],
            }
        )
    return rows


def corpus_cache_dir(root: Path, corpus: Sequence[Path], settings_key: dict[str, Any]) -> Path:
    """A store directory keyed by the corpus bytes and every setting that shapes the index."""
    digest = hashlib.sha256()
    for path in corpus:
        if not path.is_file():
            raise ArticleError(f"{path}: no such corpus file")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps({**settings_key, "format": CACHE_FORMAT}, sort_keys=True).encode())
    return root / digest.hexdigest()[:20]


def cached_build(directory: Path, build: Callable[[Path], object]) -> bool:
    """Run `build(directory)` unless a finished build is there; True if the cache was used.

    An unfinished build (no `complete` mark) is cleared and done again — under an exclusive
    `flock` on `directory`.lock, so a second eval of the same corpus waits for the first one's
    build and then uses it, instead of clearing the folder under it."""
    marker = directory / "complete"
    if marker.exists():
        return True
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f"{directory.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # (released when the file closes)
        if marker.exists():  # built by another process while this one waited
            return True
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        build(directory)
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    return False


def eval_store_settings(settings: Any, corpus_paths: Sequence[Path]) -> Any:
    """The settings of the cached store of `corpus_paths` (embedded, in its own folder under
    `DATA_DIR/eval-cache`, keyed by what changes the stored vectors and chunks)."""
    key = {
        "model": settings.embedding_model,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
    }
    if settings.embedding_backend != "torch":  # (torch keeps the cache keys it had)
        from retrieval.index.onnx_embeddings import EXPORT_FORMAT

        key["backend"] = settings.embedding_backend
        key["export"] = EXPORT_FORMAT  # another export, other vectors
    store_dir = corpus_cache_dir(settings.data_dir / "eval-cache", corpus_paths, key)
    return settings.model_copy(update={"data_dir": store_dir, "chroma_url": None})


def run_eval(
    settings: Any,
    questions_path: Path,
    corpus_paths: Sequence[Path],
    *,
    with_baseline: bool = False,
    sweep: bool = False,
    details_path: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Metrics for newsbot (and the tutorial baseline) over one question set and corpus;
    `sweep` adds the abstention trade-off of the extractive answerer over its threshold;
    `details_path` receives newsbot's row per question (JSON lines)."""
    from retrieval.answer.extractive import ExtractiveAnswerer
    from retrieval.build import build_service, load_embeddings
    from retrieval.evaluation.baseline import TutorialBaseline

    questions = load_questions(questions_path)
    embeddings = load_embeddings(settings)
    cache_root = settings.data_dir / "eval-cache"
    store_settings = eval_store_settings(settings, corpus_paths)
    store_dir = store_settings.data_dir

    def build_store(_: Path) -> None:
        service = build_service(store_settings, embeddings=embeddings)
        try:
            service.add_many(load_corpus(corpus_paths))
        finally:
            service.close()

    started = time.perf_counter()
    cached = cached_build(store_dir, build_store)
    report: dict[str, Any] = {}
    # The day of asking is each row's date, or unknown: never the machine's clock.
    service = build_service(store_settings, embeddings=embeddings, clock=lambda: None)
    never_abstains = ExtractiveAnswerer(embeddings, min_score=float("-inf"))
    scored: list[tuple[EvalQuestion, float, str]] = []
    try:
        outcomes = []
        for index, q in enumerate(questions):
            passages = service.retrieve(q.question, k=10)
            ranked = [p.text for p in passages]
            if sweep:
                draft = never_abstains.answer(q.question, passages[: service.top_k])
                lead = draft.evidence[0].score if draft.evidence else float("-inf")
                scored.append((q, lead, draft.text))
            answer = service.ask(q.question, today=q.asked_on)
            outcomes.append(
                Outcome(q, ranked, answer.answer, answer.abstained, answer.timings_ms["total"])
            )
            if progress:
                progress("newsbot", index + 1, len(questions))
    finally:
        service.close()
    report.update(summarise(outcomes))
    if details_path is not None:
        details_path.write_text(
            "".join(json.dumps(row) + "\n" for row in details(outcomes)), "utf-8"
        )
    if sweep:
        report["abstention_sweep"] = abstention_sweep(scored)
    report["index_cached"] = cached
    report["seconds"] = round(time.perf_counter() - started, 1)

    if with_baseline:
        started = time.perf_counter()
        baseline_dir = corpus_cache_dir(cache_root, corpus_paths, {"baseline": "1000/200"})
        cached = cached_build(
            baseline_dir, lambda d: TutorialBaseline(embeddings, d).build(load_corpus(corpus_paths))
        )
        baseline = TutorialBaseline(embeddings, baseline_dir)
        outcomes = []
        for index, q in enumerate(questions):
            t0 = time.perf_counter()
            ranked = baseline.search(q.question, 10)
            latency = (time.perf_counter() - t0) * 1000
            outcomes.append(Outcome(q, ranked, ranked[0] if ranked else "", False, latency))
            if progress:
                progress("baseline", index + 1, len(questions))
        report["baseline"] = {
            **summarise(outcomes),
            "index_cached": cached,
            "seconds": round(time.perf_counter() - started, 1),
        }
    return report
