"""Where ingest time goes: the share spent in the embedding model, and the tokens of the chunks
against those of their sentence rows (issue 16: why ingest stays short of 2x torch).

The first ARTICLES articles of the BBC corpus go through `service.add_many`, 10 at a time,
into a fresh store with the configured backend (the default `onnx`); every `encode` call is
timed. Then the chunks' embedding texts and their distinct sentences are tokenised with the
model's tokenizer and encoded apart, to show what each costs.

    python benchmarks/ingest_profile.py [--articles 120] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.build import build_service, load_embeddings  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.ingest.articles import article_from_dict  # noqa: E402
from retrieval.ingest.chunking import embedding_text, split_article, split_sentences  # noqa: E402

BBC = ROOT.parent / "shared" / "data" / "bbc_news.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=120)
    parser.add_argument("--corpus", type=Path, default=BBC)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with args.corpus.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line, _ in zip(handle, range(args.articles), strict=False)]
    articles = [article_from_dict(record) for record in records]
    work = Path(tempfile.mkdtemp(prefix="newsbot-ingest-profile-"))
    settings = Settings(data_dir=work)
    model = load_embeddings(settings)
    model.encode(["warm up"])
    encode = model.encode
    spent = {"seconds": 0.0, "texts": 0}

    def timed(texts: list[str]) -> Any:
        started = time.perf_counter()
        vectors = encode(texts)
        spent["seconds"] += time.perf_counter() - started
        spent["texts"] += len(texts)
        return vectors

    model.encode = timed  # type: ignore[method-assign]
    service = build_service(settings, embeddings=model)
    started = time.perf_counter()
    try:
        for index in range(0, len(articles), 10):
            service.add_many(articles[index : index + 10])
    finally:
        service.close()
    total = time.perf_counter() - started
    model.encode = encode  # type: ignore[method-assign]

    chunks: list[str] = []
    sentences: dict[str, None] = {}
    for article in articles:
        for chunk in split_article(article, settings.chunk_size, settings.chunk_overlap):
            chunks.append(embedding_text(article, chunk))
            for start, end in split_sentences(chunk.text):
                sentences.setdefault(chunk.text[start:end], None)
    tokenizer = getattr(getattr(model, "model", None), "tokenizer", None)

    def tokens(texts: list[str]) -> int | None:
        if tokenizer is None or not hasattr(tokenizer, "encode_batch"):
            return None  # (the torch backend's tokenizer is not read here)
        return sum(sum(e.attention_mask) for e in tokenizer.encode_batch(texts))

    def seconds(texts: list[str]) -> float:
        began = time.perf_counter()
        encode(texts)
        return time.perf_counter() - began

    report = {
        "backend": settings.embedding_backend,
        "articles": len(articles),
        "ingest_s": round(total, 2),
        "encode_s": round(spent["seconds"], 2),
        "encode_share": round(spent["seconds"] / total, 3),
        "texts_encoded": spent["texts"],
        "chunks": len(chunks),
        "chunk_tokens": tokens(chunks),
        "chunks_encode_s": round(seconds(chunks), 2),
        "sentences": len(sentences),
        "sentence_tokens": tokens(list(sentences)),
        "sentences_encode_s": round(seconds(list(sentences)), 2),
    }
    print(
        json.dumps(report, indent=2)
        if args.json
        else "\n".join(f"{k}: {v}" for k, v in report.items())
    )


if __name__ == "__main__":
    main()
