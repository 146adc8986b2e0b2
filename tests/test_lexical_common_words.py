"""BM25 at scale: words most rows contain are left out of the query, rarer ones decide."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.index import lexical
from retrieval.index.lexical import LexicalIndex


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LexicalIndex:
    # a small index whose "common" bar is as low as a large one's is high
    monkeypatch.setattr(lexical, "COMMON_ROWS", 3)
    index = LexicalIndex(tmp_path / "lexical.sqlite3")
    rows = [
        (f"c{i}", f"a{i}", f"The council met on day {i} to discuss budgets.") for i in range(20)
    ]
    rows.append(("harbour", "a-harbour", "The council approved the Carrow harbour wall."))
    index.add_rows("kb", rows)
    return index


def test_a_common_word_is_left_out_and_the_rare_one_finds_its_passage(
    index: LexicalIndex,
) -> None:
    assert index._uncommon(index._table("kb"), ["council", "carrow"]) == ["carrow"]
    assert [
        chunk for chunk, _ in index.search("kb", "What did the council say about Carrow?", 5)
    ] == ["harbour"]


def test_when_every_word_is_common_all_are_kept(index: LexicalIndex) -> None:
    found = index.search("kb", "When did the council meet?", 30)
    assert len(found) == 21


def test_counts_are_forgotten_when_the_index_changes(index: LexicalIndex) -> None:
    table = index._table("kb")
    assert index._uncommon(table, ["carrow"]) == ["carrow"]
    index.add_rows("kb", [(f"d{i}", f"b{i}", "Carrow again and again.") for i in range(5)])
    assert index._uncommon(table, ["carrow", "harbour"]) == ["harbour"]
