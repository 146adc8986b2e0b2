"""Which articles are the same article: tracking parameters and fragments do not split one, and
stores written before they were dropped keep working under the ids they gave."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retrieval.index.identity import (
    TRACKING_PARAMETERS,
    article_id,
    canonical_url,
    legacy_article_id,
    stored_identity,
)
from retrieval.ingest.articles import make_article
from retrieval.ingest.chunking import split_article
from retrieval.service import NewsService

STORY = "https://news.example/world/bridge-collapse"
TEXT = (
    "The Harlow Bridge in Marden collapsed into the River Wyn on Sunday evening. "
    "Officials said 12 people were killed and 30 were injured."
)
CORRECTED = (
    "The Harlow Bridge in Marden collapsed into the River Wyn on Sunday evening. "
    "Officials said nine people were killed, not 12 as first reported, and 30 were injured."
)


@pytest.mark.parametrize(
    "variant",
    [
        STORY,
        f"{STORY}/",
        f"{STORY}#comments",
        f"{STORY}?utm_source=rss&utm_medium=feed",
        f"{STORY}?partner=rss",
        f"{STORY}?fbclid=IwAR0abc",
        f"{STORY}?gclid=Cj0KCQ&mc_cid=12ab&mc_eid=34cd",
        f"{STORY}?ref=homepage&cmpid=share#top",
        f"{STORY}?UTM_Campaign=Evening",
        "HTTPS://News.Example/world/bridge-collapse/?utm_source=twitter",
    ],
)
def test_tracking_variants_of_a_url_are_one_article(variant: str) -> None:
    assert canonical_url(variant) == STORY
    assert article_id("any text", variant) == article_id("other text", STORY)


def test_parameters_that_name_the_page_are_kept_as_written() -> None:
    assert canonical_url(f"{STORY}?id=3&utm_source=rss&page=2") == f"{STORY}?id=3&page=2"
    assert canonical_url(f"{STORY}?q=a%20b+c") == f"{STORY}?q=a%20b+c"
    assert article_id("", f"{STORY}?page=2") != article_id("", STORY)


def test_the_documented_list_names_the_issues_examples() -> None:
    assert {"fbclid", "gclid", "mc_cid", "mc_eid", "ref", "partner", "cmpid"} <= TRACKING_PARAMETERS


def test_an_old_id_is_known_as_the_identity_it_has_today() -> None:
    tracked = f"{STORY}?utm_source=rss"
    old = legacy_article_id(tracked)
    assert old != article_id("", tracked)
    assert stored_identity(old, tracked) == article_id("", STORY)
    assert stored_identity("harlow-1", tracked) == "harlow-1"  # an id its record gave
    assert stored_identity(article_id(TEXT, None), None) == article_id(TEXT, None)


def test_variants_added_in_turn_are_one_stored_article(fake_service: NewsService) -> None:
    first = make_article(text=TEXT, title="Bridge collapses", url=f"{STORY}?utm_source=rss")
    again = make_article(text=TEXT, title="Bridge collapses", url=f"{STORY}?partner=rss#x")
    assert fake_service.add(first).status == "added"
    result = fake_service.add(again)
    assert (result.status, result.article_id) == ("unchanged", first.id)
    assert [a.id for a in fake_service.list()] == [article_id("", STORY)]


def write_old_store(service: NewsService, url: str, text: str) -> str:
    """An article stored the way newsbot stored it before identities: its id the hash of the
    URL with every parameter, its record without `identity`, the collection unmarked."""
    old = make_article(id=legacy_article_id(url), text=text, title="Bridge collapses", url=url)
    chunks = split_article(old, 600, 120)
    vectors = service.embeddings.encode([c.text for c in chunks])
    service.store.add_articles("default", [(old, chunks, vectors)])
    records = service.store._collection("default", "articles")
    records.update(ids=[old.id], metadatas=[{"identity": None}])
    assert "identity" not in records.get(ids=[old.id], include=["metadatas"])["metadatas"][0]
    assert not (records.metadata or {})
    service.close()
    return old.id


def test_a_store_written_with_old_ids_keeps_working(
    make_fake_service: Callable[..., NewsService],
) -> None:
    tracked = f"{STORY}?utm_source=twitter"
    old_id = write_old_store(make_fake_service("old"), tracked, TEXT)
    service = make_fake_service("old")
    new_id = article_id("", tracked)

    # the stored id stays, and the id of today finds the same article
    assert [a.id for a in service.list()] == [old_id]
    assert service.store.has_article("default", old_id)
    assert service.store.has_article("default", new_id)
    got = service.get(new_id)
    assert got is not None and got.id == old_id and got.text == TEXT

    # another variant of its URL, same text: the stored article, unchanged
    same = make_article(text=TEXT, title="Bridge collapses", url=f"{STORY}?partner=rss")
    result = service.add(same)
    assert (result.status, result.article_id) == ("unchanged", new_id)  # the id it came with

    # and with a corrected text: an update of the stored article, under its stored id
    corrected = make_article(text=CORRECTED, title="Bridge collapses", url=STORY)
    result = service.add(corrected)
    assert (result.status, result.article_id) == ("updated", new_id)
    assert [a.id for a in service.list()] == [old_id]  # stored under the id it had
    [passage] = service.retrieve("How many people were killed?", k=1)
    assert "nine people were killed" in passage.text and passage.article_id == old_id

    # removal by the id of today
    assert service.remove(new_id)
    assert service.list() == [] and service.store.count_chunks("default") == 0
    assert service.store.lexical.count("default") == 0


def test_old_ids_still_remove_what_they_named(
    make_fake_service: Callable[..., NewsService],
) -> None:
    tracked = f"{STORY}?utm_source=twitter"
    old_id = write_old_store(make_fake_service("old"), tracked, TEXT)
    service = make_fake_service("old")
    assert service.remove(old_id)
    assert not service.store.has_article("default", article_id("", tracked))
