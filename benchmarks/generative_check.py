"""How many generated sentences the citation checker keeps and drops, with a real model.

Asks the seed questions over the seed article and the first N questions of RGB facts over its
corpus, through an OpenAI-compatible server (by default it starts llama.cpp's server with
SmolLM2-135M-Instruct on loopback, as the tests do), and reports kept and dropped sentences,
why each was dropped, and how many answers fell back to the extractive answerer.

    .venv/bin/python benchmarks/generative_check.py [--rgb-questions 20] [--base-url URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_model_servers import run_llama_server, smollm2_gguf  # noqa: E402

from retrieval.answer.generative import GenerativeAnswerer, looks_like_abstention  # noqa: E402
from retrieval.build import build_service  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.index.embeddings import SentenceEmbeddings  # noqa: E402
from retrieval.ingest.articles import article_from_dict  # noqa: E402
from retrieval.service import NewsService  # noqa: E402

SEED_QUESTIONS = [
    "Why did China refuse the meeting?",
    "Who is Li Shangfu?",
    "When were the sanctions on Li imposed?",
    "Which weapons did China buy from Russia?",
]


def ask_all(service: NewsService, kb: str, questions: list[str]) -> list[dict[str, Any]]:
    answerer = service.pipeline.answerer
    assert isinstance(answerer, GenerativeAnswerer)
    rows = []
    for question in questions:
        passages = service.retrieve(question, kb)
        started = time.perf_counter()
        reply = answerer.generate(question, passages)
        seconds = time.perf_counter() - started
        result = answerer.checker.check(reply, passages)
        abstained = looks_like_abstention(reply)
        rows.append(
            {
                "kb": kb,
                "question": question,
                "reply": reply,
                "seconds": round(seconds, 2),
                "abstained": abstained,
                "kept": [] if abstained else [s.claim.raw for s in result.sentences if s.supported_by],
                "dropped": [] if abstained else [
                    {"sentence": s.claim.raw, "reason": s.reason}
                    for s in result.sentences
                    if not s.supported_by
                ],
                "fell_back": not abstained and result.kept == 0,
                # would a passage have supported the sentences the model left uncited?
                "uncited_but_supported": [] if abstained else [
                    s.claim.raw
                    for s in answerer.checker.check_sentences(
                        [replace(c.claim, markers=tuple(range(1, len(passages) + 1)))
                         for c in result.sentences if not c.claim.markers],
                        passages,
                    )
                    if s.supported_by
                ],
            }
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rgb", type=Path, default=ROOT.parent / "shared/data/rgb_fact")
    parser.add_argument("--rgb-questions", type=int, default=20)
    parser.add_argument("--base-url", help="an OpenAI-compatible server; default: start llama.cpp")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = args.base_url
        if url is None:
            gguf = smollm2_gguf()
            if gguf is None:
                sys.exit("SmolLM2 not found: run `make test` once, or pass --base-url")
            url = stack.enter_context(run_llama_server(gguf, workdir / "llama.log"))
        settings = Settings(
            data_dir=workdir / "data",
            llm=f"openai:{args.model}",
            openai_base_url=url,
            llm_temperature=0.0,
            llm_max_tokens=120,
            llm_timeout_s=300,
        )
        service = build_service(settings, embeddings=SentenceEmbeddings())
        stack.callback(service.close)
        seed = json.loads((ROOT / "retrieval/demo/seed_article.json").read_text())
        service.add(article_from_dict(seed), kb="seed")
        corpus = (args.rgb / "corpus.jsonl").read_text().splitlines()
        service.add_many([article_from_dict(json.loads(line)) for line in corpus], kb="rgb")
        questions = [
            json.loads(line)["question"]
            for line in (args.rgb / "questions.jsonl").read_text().splitlines()
        ]
        rows = ask_all(service, "seed", SEED_QUESTIONS)
        rows += ask_all(service, "rgb", questions[: args.rgb_questions])
    reasons = Counter(d["reason"].split(":")[0].split(" (")[0] for r in rows for d in r["dropped"])
    summary = {
        "questions": len(rows),
        "sentences_kept": sum(len(r["kept"]) for r in rows),
        "sentences_dropped": sum(len(r["dropped"]) for r in rows),
        "answers_with_a_kept_sentence": sum(1 for r in rows if r["kept"]),
        "answers_fell_back_to_extractive": sum(1 for r in rows if r["fell_back"]),
        "answers_abstained": sum(1 for r in rows if r["abstained"]),
        "uncited_sentences_a_passage_supports": sum(len(r["uncited_but_supported"]) for r in rows),
        "drop_reasons": dict(reasons.most_common()),
        "generation_s_median": sorted(r["seconds"] for r in rows)[len(rows) // 2],
    }
    if args.json:
        print(json.dumps({"summary": summary, "answers": rows}, indent=1, ensure_ascii=False))
        return
    for row in rows:
        print(f"\n[{row['kb']}] {row['question']}  ({row['seconds']} s)")
        for sentence in row["kept"]:
            print(f"  KEPT     {sentence}")
        for item in row["dropped"]:
            print(f"  DROPPED  {item['sentence']}\n           — {item['reason']}")
        if row["abstained"]:
            print("  ABSTAINED")
    print("\n" + json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
