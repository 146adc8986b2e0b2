"""Could ingest encode half as much? Ingest embeds each chunk (with its headline and date) and
then each of its sentences again for the answerer: about as many tokens twice. Two ways to get
one from the other without a second pass, measured against the vectors ingest stores:

- a chunk's vector from its sentences' stored vectors (weighted by length, plus the header's
  vector at a few weights): cosine to the chunk's encoded vector;
- each sentence's vector pooled from the chunk's own token states ("late chunking"): cosine
  to the sentence's stored vector.

A cosine far from 1 is another retriever or another answerer, to be fitted and evaluated
anew, not a faster way to the same one. Reads a store `newsbot eval` built (the corpus's
eval-cache folder), the default `onnx` backend:

    NEWSBOT_MODEL_CACHE_DIR=… .venv/bin/python benchmarks/derived_vectors.py \\
        ../shared/data/rtqa_2024_full/corpus.jsonl --chunks 300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.build import build_service, load_embeddings  # noqa: E402
from retrieval.config import Settings  # noqa: E402
from retrieval.evaluation.run import eval_store_settings  # noqa: E402
from retrieval.index.onnx_embeddings import OnnxEmbeddings  # noqa: E402
from retrieval.index.sentence_vectors import sentence_key  # noqa: E402
from retrieval.text.sentences import split_sentences  # noqa: E402

HEADER_WEIGHTS = (0, 1, 3, 5)


def summary(values: list[float]) -> dict[str, float]:
    array = np.array(values)
    return {
        "mean": round(float(array.mean()), 3),
        "p10": round(float(np.percentile(array, 10)), 3),
        "min": round(float(array.min()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="+", type=Path, help="the corpus files of the eval store")
    parser.add_argument("--chunks", type=int, default=300)
    args = parser.parse_args()

    settings = Settings()
    embeddings = load_embeddings(settings)
    if not isinstance(embeddings, OnnxEmbeddings):
        sys.exit("this probe reads the onnx backend's token states: NEWSBOT_EMBEDDING_BACKEND=onnx")
    service = build_service(eval_store_settings(settings, args.corpus), embeddings=embeddings)
    store, space, encoder = service.store, embeddings.vector_space, embeddings.model
    chunks: list[tuple[str, str, np.ndarray]] = []  # header, text, stored vector
    for record in store.stored_records("default", vectors=True):
        title, published = record.metadata.get("title", ""), record.metadata.get("published_at")
        header = f"{title} ({published})" if published else title
        for text, vector in zip(record.chunk_documents, record.vectors, strict=True):
            chunks.append((header, text, np.asarray(vector, dtype=np.float32)))
        if len(chunks) >= args.chunks:
            break
    headers = sorted({header for header, _, _ in chunks})
    header_vectors = dict(zip(headers, embeddings.encode(headers), strict=True))

    pooled: dict[int, list[float]] = {weight: [] for weight in HEADER_WEIGHTS}
    late: list[float] = []
    for header, text, chunk_vector in chunks:
        spans = split_sentences(text)
        keys = [sentence_key(space, text[start:end]) for start, end in spans]
        stored = store.sentences.vectors(keys)
        found = [(span, key) for span, key in zip(spans, keys, strict=True) if key in stored]
        if not found:
            continue
        rows = np.stack([stored[key] for _, key in found]).astype(np.float32)
        lengths = np.array([len(text[start:end].split()) for (start, end), _ in found], float)
        for weight in HEADER_WEIGHTS:
            guess = (lengths[:, None] * rows).sum(0)
            guess += weight * len(header.split()) * header_vectors[header]
            pooled[weight].append(float(guess @ chunk_vector / np.linalg.norm(guess)))

        # the chunk encoded as ingest encodes it, its token states kept
        offset = len(header) + 1
        encoding = encoder.tokenizer.encode(f"{header}\n{text}")
        ids = np.array([encoding.ids])
        feed = {
            "input_ids": ids,
            "attention_mask": np.array([encoding.attention_mask]),
            "token_type_ids": np.zeros_like(ids),
        }
        states = encoder.session.run(None, {k: v for k, v in feed.items() if k in encoder.inputs})
        for (start, end), key in found:
            tokens = [
                i
                for i, (first, last) in enumerate(encoding.offsets)
                if last > first and first >= start + offset and last <= end + offset
            ]
            if tokens:  # (none: the sentence fell past the model's length limit)
                vector = states[0][0][tokens].mean(axis=0)
                late.append(float(vector @ stored[key] / np.linalg.norm(vector)))
    service.close()
    print(f"{len(chunks)} chunks, {len(late)} sentences")
    for weight in HEADER_WEIGHTS:
        print(f"chunk from its sentences, header weight {weight}: cosine {summary(pooled[weight])}")
    print(f"sentence from the chunk's token states: cosine {summary(late)}")


if __name__ == "__main__":
    main()
