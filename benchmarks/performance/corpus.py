"""The bench's data: the BBC articles as ingest would store them, questions about them, and
the same corpus grown to 100k or 1M chunks by repeating it with perturbed text.

A repeat ("copy r") has its own id, every digit shifted by r, some words swapped for others
of the same length (said/told, million/billion, ...) and its first long word spelling r, so
its passages are new texts to BM25 and to de-duplication, while its sentences and chunks keep
their boundaries. Its vectors are the original chunk's plus Gaussian noise (cosine ~0.96 to
it) rather than embedded again: embedding 100k chunks would take this machine an hour and
measures nothing the 10k ingest does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from retrieval.ingest.articles import load_path
from retrieval.ingest.chunking import embedding_text, split_article
from retrieval.text.terms import body_key
from retrieval.types import Article, Chunk

ROOT = Path(__file__).resolve().parents[2]
BBC = ROOT.parent / "shared" / "data" / "bbc_news.jsonl"

_SWAPS = [
    ("said", "told"),
    ("year", "week"),
    ("million", "billion"),
    ("government", "parliament"),
    ("company", "concern"),
    ("market", "sector"),
    ("first", "final"),
    ("would", "could"),
    ("minister", "director"),
    ("people", "voters"),
    ("last", "next"),
    ("England", "Britain"),
]
_QUESTION_TEMPLATES = [
    "What is the news about {}?",
    "Why {}?",
    "When did this happen: {}?",
    "Who is behind {}?",
    "How many people were affected by {}?",
]


@dataclass(frozen=True)
class StoredForm:
    """An article as `add_many` stores it: its chunks and the texts that are embedded."""

    article: Article
    chunks: list[Chunk]

    @property
    def texts(self) -> list[str]:
        return [embedding_text(self.article, c) for c in self.chunks]


def stored_forms(path: Path, limit: int | None = None) -> list[StoredForm]:
    """The articles of `path` that ingest would store (repeats of an id or of a body are
    skipped, as `add_many` does), up to `limit` articles."""
    seen_ids: set[str] = set()
    seen_bodies: set[str] = set()
    forms = []
    for article in load_path(path):
        key = body_key(article.text)
        if article.id in seen_ids or key in seen_bodies:
            continue
        seen_ids.add(article.id)
        seen_bodies.add(key)
        forms.append(StoredForm(article, split_article(article)))
        if limit is not None and len(forms) >= limit:
            break
    return forms


def write_jsonl(articles: list[Article], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for a in articles:
            record = {"id": a.id, "title": a.title, "text": a.text, "source": a.source}
            handle.write(json.dumps(record) + "\n")
    return path


def questions(forms: list[StoredForm], count: int) -> list[str]:
    """`count` questions about articles spread over the corpus, of every kind the answerer
    knows (what, why, when, who, how many)."""
    step = max(1, len(forms) // count)
    picked = [forms[i * step % len(forms)].article for i in range(count)]
    return [
        _QUESTION_TEMPLATES[i % len(_QUESTION_TEMPLATES)].format(a.title[0].lower() + a.title[1:])
        for i, a in enumerate(picked)
    ]


def _perturb(text: str, copy: int) -> str:
    """Digits shifted by `copy`, the word swaps whose bit is set in `copy`, and the first word
    of four or more letters spelling `copy` (`_marked`): the length and the sentence
    boundaries stay, so the chunks do too."""
    shifted = re.sub(r"\d", lambda m: str((int(m.group()) + copy) % 10), text)
    for bit, (a, b) in enumerate(_SWAPS):
        if (copy >> (bit % 4)) & 1 or bit % 3 == copy % 3:
            shifted = re.sub(rf"\b{a}\b", b, shifted)
    return _marked(shifted, copy)


def _marked(text: str, copy: int) -> str:
    """`text` with its first word of four or more letters replaced by `copy` in base 26 (a-z,
    as long as the word, its first letter's case kept). The shifts and swaps alone repeat
    every 240 copies (digits mod 10, swaps mod 16 and mod 3), so the bench's 1m step stopped at
    598,380 passages, the later copies' bodies being repeats to ingest; with the mark every
    copy up to 26**4 of every article is a body of its own."""
    found = re.search(r"\b[A-Za-z]{4,}\b", text)
    if found is None:
        return text
    width = found.end() - found.start()
    if copy >= 26**width:
        raise ValueError(f"copy {copy} does not fit in a word of {width} letters")
    letters = []
    for _ in range(width):
        copy, digit = divmod(copy, 26)
        letters.append(chr(ord("a") + digit))
    mark = "".join(reversed(letters))
    if found.group()[0].isupper():
        mark = mark[0].upper() + mark[1:]
    return text[: found.start()] + mark + text[found.end() :]


def perturbed_copy(form: StoredForm, copy: int) -> StoredForm:
    article = replace(
        form.article,
        id=f"{form.article.id}~{copy}",
        title=_perturb(form.article.title, copy),
        text=_perturb(form.article.text, copy),
    )
    chunks = split_article(article)
    if len(chunks) != len(form.chunks):  # cannot happen while _perturb keeps lengths
        raise AssertionError(f"copy {copy} of {form.article.id} changed its chunking")
    return StoredForm(article, chunks)


@dataclass(frozen=True)
class GrownForm:
    """One article of the grown corpus: `form` as stored, `original` the corpus article it
    copies (itself for copy 0) and `vectors` its chunks' (unit length)."""

    form: StoredForm
    original: StoredForm
    copy: int
    vectors: np.ndarray


def grown_corpus(
    forms: list[StoredForm], vectors: np.ndarray, *, noise: float = 0.3, seed: int = 7
) -> Iterator[GrownForm]:
    """The corpus (copy 0), then perturbed copies 1, 2, ... without end, each form with its
    chunk vectors (unit length)."""
    rng = np.random.default_rng(seed)
    offsets = np.cumsum([0] + [len(f.chunks) for f in forms])
    copy = 0
    while True:
        for index, form in enumerate(forms):
            rows = vectors[offsets[index] : offsets[index + 1]]
            if copy == 0:
                yield GrownForm(form, form, 0, rows)
                continue
            yield GrownForm(perturbed_copy(form, copy), form, copy, add_noise(rows, rng, noise))
        copy += 1


def add_noise(rows: np.ndarray, rng: np.random.Generator, noise: float = 0.3) -> np.ndarray:
    """Unit vectors near `rows` (cosine ~0.96 at the default noise)."""
    noisy = rows + noise * rng.standard_normal(rows.shape).astype(np.float32) / np.sqrt(
        rows.shape[1]
    )
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return noisy.astype(np.float32)
