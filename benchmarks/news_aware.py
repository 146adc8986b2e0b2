"""Measure the news-aware answers on a small dated corpus: dates, order, disagreement.

The corpus (`evals/news_aware_corpus.jsonl`) follows one story over a month — a bridge
collapse, a corrected death toll, an inquiry, a ferry, a rebuilding contract — beside
unrelated articles, one of them undated. Each question (`evals/news_aware_questions.jsonl`)
carries the day it is asked and what a right answer shows:

- `dates`: days (or months, "2023-08") the answer must show — as a source's publication
  date, a resolved date beside a quote, or a timeline date; every citation must also carry
  its article's own publication date. `undated`: no date may be invented for the source.
- `timeline`: a dated list, oldest first, from at least `min_articles` articles, starting
  at `first` or with every event after `after`.
- `disagreement`: the two articles whose conflicting statements must be flagged, or false
  when the sources agree (a flag there is a false one).
- `newest` / `stale`: the newest source the answer reports, and whether it must warn that
  the sources may be out of date.

    .venv/bin/python benchmarks/news_aware.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.ingest.articles import load_path  # noqa: E402
from retrieval.service import NewsService  # noqa: E402
from retrieval.types import Answer, Article  # noqa: E402

CORPUS = ROOT / "evals" / "news_aware_corpus.jsonl"
QUESTIONS = ROOT / "evals" / "news_aware_questions.jsonl"


def load_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def shown_dates(answer: Answer) -> set[str]:
    """Every date an answer shows: sources, notes beside quotes, timeline entries."""
    shown = {c.published_at for c in answer.citations if c.published_at}
    shown |= {note.iso for c in answer.citations for note in c.date_notes}
    shown |= {entry.date for entry in answer.timeline}
    return shown


def judge(answer: Answer, expect: dict[str, Any], published: dict[str, str | None]) -> dict:
    """Which checks apply to this question, and whether each passed."""
    checks: dict[str, bool] = {}
    if "dates" in expect:
        own = all(c.published_at == published[c.article_id] for c in answer.citations)
        shown = shown_dates(answer)
        checks["dates"] = not answer.abstained and own and all(d in shown for d in expect["dates"])
        if expect.get("undated"):
            checks["dates"] = checks["dates"] and not any(c.date_notes for c in answer.citations)
    if "timeline" in expect:
        want = expect["timeline"]
        days = [entry.date for entry in answer.timeline]
        cited = {answer.citations[e.n - 1].article_id for e in answer.timeline}
        ordered = days == sorted(days) and len(cited) >= want["min_articles"]
        if "first" in want:
            ordered = ordered and bool(days) and days[0] == want["first"]
        if "after" in want:
            ordered = ordered and all(d > want["after"] for d in days)
        checks["order"] = ordered
    if "disagreement" in expect:
        flagged = answer.disagreement is not None
        if expect["disagreement"]:
            sides = {
                answer.citations[n - 1].article_id
                for n in (answer.disagreement.citations if answer.disagreement else [])
            }
            checks["flagged"] = flagged and sides == set(expect["disagreement"])
        else:
            checks["no_false_flag"] = not flagged
    if "newest" in expect:
        checks["newest"] = answer.newest_source == expect["newest"]
    if "stale" in expect:
        warned = "newer developments" in (answer.time_note or "")
        checks["stale"] = warned == expect["stale"]
    return checks


def measure(
    service: NewsService, questions: list[dict[str, Any]], articles: list[Article]
) -> dict[str, Any]:
    """Ask every question on its own day and count what came out right."""
    published = {a.id: a.published_at for a in articles}
    rows = []
    for q in questions:
        answer = service.ask(q["question"], today=date.fromisoformat(q["today"]))
        rows.append({"id": q["id"], "question": q["question"], "answer": answer.answer,
                     "checks": judge(answer, q["expect"], published)})  # fmt: skip

    def tally(check: str) -> dict[str, int]:
        results = [r["checks"][check] for r in rows if check in r["checks"]]
        return {"right": sum(results), "of": len(results)}

    return {
        "questions": len(rows),
        "right_dates": tally("dates"),
        "right_order": tally("order"),
        "disagreements_flagged": tally("flagged"),
        "undisputed_without_false_flag": tally("no_false_flag"),
        "newest_source_right": tally("newest"),
        "stale_warning_right": tally("stale"),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    from retrieval.build import build_service
    from retrieval.config import Settings

    articles = list(load_path(CORPUS))
    with tempfile.TemporaryDirectory() as tmp:
        service = build_service(Settings(data_dir=Path(tmp)), clock=lambda: None)
        try:
            service.add_many(articles)
            report = measure(service, load_questions(), articles)
        finally:
            service.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    for row in report["rows"]:
        failed = [name for name, ok in row["checks"].items() if not ok]
        print(
            f"{row['id']}  {'FAIL ' + ','.join(failed) if failed else 'ok':<22} {row['question']}"
        )
    print()
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"{key:<32}{value['right']}/{value['of']}")


if __name__ == "__main__":
    main()
