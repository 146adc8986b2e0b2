"""Choose `YEARS_PAST_SOURCES`, the margin of the answerer's "a year the sources cannot know
of" decline (`retrieval.answer.extractive.after_every_source`), on the eval sets.

Each question is asked with the rule off, against the set's cached eval store (built by
`newsbot eval` first); then, for each margin, the rule is applied to the passages the answer
rested on, and the questions it would newly decline are counted: answerable ones (and of
those, ones answered right) against unanswerable ones.

    NEWSBOT_MODEL_CACHE_DIR=… .venv/bin/python benchmarks/year_rule.py \\
        --set ../shared/data/rtqa_2024_full/questions.jsonl ../shared/data/rtqa_2024_full/corpus.jsonl \\
        --set evals/offtopic_questions.jsonl ../shared/data/bbc_news.jsonl retrieval/demo/seed_article.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.answer import extractive  # noqa: E402
from retrieval.build import build_service, load_embeddings  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.evaluation.run import (  # noqa: E402
    contains_answer,
    eval_store_settings,
    load_questions,
)

MARGINS = range(6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set",
        nargs="+",
        action="append",
        required=True,
        metavar="FILE",
        help="a question file, then its corpus files",
    )
    args = parser.parse_args()
    settings = Settings()
    embeddings = load_embeddings(settings)
    extractive.YEARS_PAST_SOURCES = 10**6  # the rule off: what the other declines leave
    table: dict[str, dict[int, dict[str, int]]] = {}
    for questions_file, *corpus in args.set:
        store_settings = eval_store_settings(settings, [Path(c) for c in corpus])
        if not store_settings.data_dir.exists():
            sys.exit(f"{questions_file}: no eval store yet; run newsbot eval on it first")
        service = build_service(store_settings, embeddings=embeddings, clock=lambda: None)
        counts = {m: {"answerable": 0, "right": 0, "unanswerable": 0} for m in MARGINS}
        try:
            for q in load_questions(Path(questions_file)):
                answer = service.ask(q.question, today=q.asked_on)
                if answer.abstained:
                    continue
                right = any(contains_answer(answer.answer, gold) for gold in q.answers)
                for margin in MARGINS:
                    extractive.YEARS_PAST_SOURCES = margin
                    if extractive.after_every_source(q.question, answer.passages):
                        row = counts[margin]
                        row["answerable" if q.answerable else "unanswerable"] += 1
                        row["right"] += int(q.answerable and right)
                extractive.YEARS_PAST_SOURCES = 10**6
        finally:
            service.close()
        table[questions_file] = counts
    print(json.dumps({"newly_declined_by_margin": table}, indent=2))


if __name__ == "__main__":
    main()
