"""Choose the citation checker's similarity threshold on data.

Supported pairs: a sentence that restates part of its own passage — the project's seed
article with hand-written paraphrases, and sentences of the seed article and of RGB's news
snippets with a third of their ordinary words dropped (names and numbers kept, as a model
keeps them). Unsupported pairs: a sentence checked against another passage on the same topic
(RGB snippets share the search query they were found with; near-duplicates excluded), and
hand-written claims about the seed story that it does not make, checked against the passage
closest to them. For each threshold it prints how many pairs the checker (similarity and the
facts test together) lets through.

    .venv/bin/python benchmarks/citation_threshold.py [--rgb ../shared/data/rgb_fact] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.answer.citation_check import CitationChecker, Claim  # noqa: E402
from retrieval.index.embeddings import SentenceEmbeddings  # noqa: E402
from retrieval.ingest.articles import article_from_dict  # noqa: E402
from retrieval.ingest.chunking import split_article  # noqa: E402
from retrieval.text.sentences import split_sentences  # noqa: E402
from retrieval.text.terms import content_terms  # noqa: E402
from retrieval.types import Article, Passage  # noqa: E402

SEED_PARAPHRASES = [
    "China turned down Lloyd Austin's request to meet Li Shangfu at the Shangri-La Dialogue in Singapore.",
    "Li Shangfu is the Chinese counterpart of US Defence Secretary Lloyd Austin.",
    "Relations are strained after Nancy Pelosi visited Taiwan in August and the US shot down a Chinese spy balloon in February.",
    "The US shot down a Chinese spy balloon that flew over US military installations in February.",
    "The Pentagon said Beijing turned down an invitation that was extended in early May.",
    "The US will still work to improve communication channels despite the rejection, the Pentagon said.",
    "Patrick Ryder said the PRC is unwilling to engage in meaningful military-to-military discussions.",
    "The Chinese Embassy questioned the authenticity and importance of the offer, citing US restrictions on Chinese officials.",
    "China refused because of US restrictions imposed on Chinese officials, institutions and businesses.",
    "The US sanctioned Li in 2018 over China's acquisition of Russian weapons.",
    "China bought a Su-35 combat aircraft and an S-400 surface-to-air missile system from Russia.",
    "The US sanctioned China over human rights violations in Xinjiang and limits on political freedom in Hong Kong.",
    "Liu Pengyu said China firmly opposes illegal unilateral sanctions.",
    "The Chinese Embassy spokesman said the US should immediately lift sanctions.",
    "According to Liu Pengyu, the US must remove obstacles and create conditions for dialogue.",
]
SEED_UNSUPPORTED = [
    "China agreed to hold the meeting with Lloyd Austin at the Shangri-La Dialogue.",
    "Li Shangfu visited Taiwan in August of last year.",
    "The Pentagon said the US would cut off communication channels with Beijing.",
    "The spy balloon was shot down over Singapore.",
    "Patrick Ryder said the meeting would take place in early May.",
    "Nancy Pelosi criticised the Chinese Embassy for the rejection.",
    "The US lifted its sanctions on Li Shangfu.",
    "China plans to buy more Su-35 aircraft from Russia next year.",
    "The Chinese Embassy welcomed the offer as important and authentic.",
    "Lloyd Austin will travel to Beijing after the forum.",
    "Hong Kong imposed sanctions on the US over Xinjiang.",
    "Liu Pengyu said China would join the talks in Singapore.",
    "The Shangri-La Dialogue was cancelled this week.",
    "Human rights groups praised the meeting in Singapore.",
]
THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(11)]


def passages_of(article: Article) -> list[Passage]:
    return [
        Passage(c.id, article.id, c.text, 1.0, c.start, c.end, article.title)
        for c in split_article(article)
    ]


def sentences_of(passage: Passage) -> list[str]:
    return [passage.text[a:b] for a, b in split_sentences(passage.text)]


def drop_words(sentence: str, rng: random.Random, share: float = 1 / 3) -> str:
    """A compressed restatement: ordinary words dropped, names and numbers kept."""
    words = sentence.split()
    droppable = [
        i for i, w in enumerate(words[1:], 1) if w[:1].islower() and not any(c.isdigit() for c in w)
    ]
    gone = set(rng.sample(droppable, int(len(droppable) * share)))
    return " ".join(w for i, w in enumerate(words) if i not in gone)


def build_pairs(rgb_dir: Path, limit: int) -> dict[str, list[tuple[str, Passage]]]:
    rng = random.Random(0)
    seed = article_from_dict(json.loads((ROOT / "retrieval/demo/seed_article.json").read_text()))
    seed_passages = passages_of(seed)
    pairs: dict[str, list[tuple[str, Passage]]] = defaultdict(list)
    for passage in seed_passages:
        for sentence in sentences_of(passage):
            if len(sentence) >= 50:
                pairs["supported: words dropped"].append((drop_words(sentence, rng), passage))
    by_topic: dict[str, list[Passage]] = defaultdict(list)
    for line in (rgb_dir / "corpus.jsonl").read_text().splitlines():
        record = json.loads(line)
        if not record.get("title"):
            continue
        article = article_from_dict(record)
        by_topic[record["title"]].append(passages_of(article)[0])
    topics = sorted(by_topic)
    rng.shuffle(topics)
    for topic in topics:
        group = by_topic[topic]
        for passage in group:
            sentences = [s for s in sentences_of(passage) if len(s) >= 50]
            if sentences and len(pairs["supported: words dropped"]) < limit:
                pairs["supported: words dropped"].append(
                    (drop_words(rng.choice(sentences), rng), passage)
                )
        for a, b in pairwise(group):
            sentences = [s for s in sentences_of(a) if len(s) >= 50]
            if not sentences or len(pairs["unsupported: same topic, other passage"]) >= limit:
                continue
            sentence = rng.choice(sentences)
            terms, other = set(content_terms(sentence)), set(content_terms(b.text))
            if len(terms & other) >= 0.6 * len(terms):
                continue  # the other snippet says much the same: not a fair negative
            pairs["unsupported: same topic, other passage"].append((sentence, b))
    return {
        **pairs,
        "supported: seed paraphrases": [(s, seed_passages) for s in SEED_PARAPHRASES],  # type: ignore[misc]
        "unsupported: seed claims not made": [(s, seed_passages) for s in SEED_UNSUPPORTED],  # type: ignore[misc]
    }


def measure(
    checker: CitationChecker, text: str, passages: Passage | list[Passage]
) -> tuple[float, bool]:
    """(similarity, facts present) against the passage, or the closest of several."""
    candidates = passages if isinstance(passages, list) else [passages]
    claim = Claim(text, tuple(range(1, len(candidates) + 1)), text)
    supports = checker.check_sentences([claim], candidates)[0].supports
    best = max(supports, key=lambda s: s.similarity)
    return best.similarity, not best.missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rgb", type=Path, default=ROOT.parent / "shared/data/rgb_fact")
    parser.add_argument("--limit", type=int, default=300, help="pairs per generated set")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    checker = CitationChecker(SentenceEmbeddings())
    results: dict[str, list[tuple[float, bool]]] = {}
    for name, pairs in build_pairs(args.rgb, args.limit).items():
        results[name] = [measure(checker, text, passage) for text, passage in pairs]
    table = {
        name: {
            str(t): sum(1 for sim, facts in rows if facts and sim >= t) / len(rows)
            for t in THRESHOLDS
        }
        | {"pairs": len(rows), "facts_pass": sum(f for _, f in rows) / len(rows)}
        for name, rows in results.items()
    }
    if args.json:
        print(json.dumps(table, indent=1))
        return
    print(
        f"{'share let through (facts and similarity ≥ t)':<44}"
        + "".join(f"{t:>6}" for t in THRESHOLDS)
    )
    for name, row in table.items():
        print(
            f"{name + ' (' + str(row['pairs']) + ')':<44}"
            + "".join(f"{row[str(t)]:>6.2f}" for t in THRESHOLDS)
        )
    print(
        "facts test alone lets through: "
        + ", ".join(f"{n}: {r['facts_pass']:.2f}" for n, r in table.items())
    )


if __name__ == "__main__":
    main()
