"""News articles: the record, its stable id, and loading it from files, folders and URLs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from retrieval.errors import ArticleError
from retrieval.index.identity import (
    TRACKING_PARAMETERS,
    TRACKING_PREFIXES,
    article_id,
    canonical_url,
    legacy_article_id,
    stored_identity,
)
from retrieval.ingest.page_clean import clean_page_text
from retrieval.text.dates import read_date
from retrieval.types import Article

__all__ = [
    "TRACKING_PARAMETERS",
    "TRACKING_PREFIXES",
    "Article",
    "ArticleError",
    "article_from_dict",
    "article_id",
    "canonical_url",
    "dated",
    "legacy_article_id",
    "load_path",
    "parse_html",
    "parse_published_at",
    "parse_text",
    "stored_identity",
]

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES


def _clean_date(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    day = read_date(str(value))
    if day is None:
        raise ArticleError(
            f"{where}: published_at {str(value)[:80]!r} is not a date "
            "(e.g. 2024-09-06, 2024/09/06, September 6, 2024)"
        )
    return day.isoformat()


_INLINE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")


def strip_inline_html(text: str) -> str:
    """Remove tags that leaked into text fields (links in scraped JSON), keeping their words."""
    if not _INLINE_TAG.search(text):
        return text
    import html

    return html.unescape(_INLINE_TAG.sub("", text))


def make_article(
    *,
    text: str,
    title: str | None = None,
    url: str | None = None,
    source: str | None = None,
    published_at: str | None = None,
    id: str | None = None,
    where: str = "article",
) -> Article:
    """Validate and normalise the fields of one article."""
    if not isinstance(text, str) or not text.strip():
        raise ArticleError(f"{where}: the article has no text")
    text = strip_inline_html(text).strip()
    if not text:
        raise ArticleError(f"{where}: the article has no text")
    # The id is that of the text as given, so ids of articles stored before pages were
    # cleaned stay the same; a page that is all chrome keeps its text.
    stable_id = str(id).strip() if id else article_id(text, url)
    text = clean_page_text(text).strip() or text
    title = strip_inline_html(title or "").strip() or _title_from_text(text)
    return Article(
        id=stable_id,
        title=title,
        text=text,
        url=url or None,
        source=source or None,
        published_at=_clean_date(published_at, where),
    )


def article_from_dict(data: Any, where: str = "article") -> Article:
    if not isinstance(data, dict):
        raise ArticleError(f"{where}: expected a JSON object with 'title' and 'text'")
    text = data.get("text")
    if not isinstance(text, str):
        raise ArticleError(f"{where}: missing the required field 'text'")
    return make_article(
        text=text,
        title=data.get("title"),
        url=data.get("url"),
        source=data.get("source"),
        published_at=data.get("published_at"),
        id=data.get("id"),
        where=where,
    )


def _title_from_text(text: str) -> str:
    """A headline for text that came without one: its first sentence, shortened."""
    first = text.strip().splitlines()[0].strip().lstrip("#").strip()
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    if len(sentence) <= 100:
        return sentence or "Untitled"
    return sentence[:100].rsplit(" ", 1)[0] + "…"


def parse_text(text: str, *, where: str, markdown: bool = False, url: str | None = None) -> Article:
    """A plain-text article: a short first line (or a Markdown heading) is its headline."""
    text = text.replace("\r\n", "\n").strip()
    lines = text.split("\n", 1)
    first = lines[0].strip()
    heading = re.match(r"#{1,6}\s+(.*)", first) if markdown else None
    if heading or (len(lines) == 2 and 0 < len(first) <= 150 and not first.endswith(".")):
        title = heading.group(1).strip() if heading else first
        body = lines[1].strip() if len(lines) == 2 else ""
        if body:
            return make_article(text=body, title=title, url=url, where=where)
    return make_article(text=text, url=url, where=where)


def _without_headline(text: str, title: str) -> str:
    """The page's text without its `<h1>` headline, which trafilatura keeps as the first line:
    the headline is the article's title, not a sentence of its body to be cited."""
    first, _, rest = text.strip().partition("\n")
    same = " ".join(first.split()).casefold() == " ".join(title.split()).casefold()
    return rest.strip() if same and rest.strip() else text


def parse_html(html: str, *, url: str | None = None, where: str) -> Article:
    """Main text and metadata of a web page, through trafilatura (scripts and boilerplate go)."""
    import trafilatura

    extracted = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, favor_precision=True
    )
    text = getattr(extracted, "text", None) if extracted is not None else None
    title = getattr(extracted, "title", None)
    if not text or not text.strip():
        raise ArticleError(f"{where}: no article text could be extracted from the page")
    # A page without a URL keeps the id of its whole text, as stored before the headline
    # was taken out of the body.
    same_id = None if url else article_id(strip_inline_html(text).strip(), None)
    if title:
        text = _without_headline(text, title)
    return make_article(
        id=same_id,
        text=text,
        title=title,
        url=url,
        source=getattr(extracted, "sitename", None) or getattr(extracted, "hostname", None),
        published_at=getattr(extracted, "date", None),
        where=where,
    )


def _read_text_file(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise ArticleError(f"{path}: the file is empty")
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{path}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleError(f"{path}: not UTF-8 text") from None


def _load_jsonl(path: Path) -> Iterator[Article]:
    """One article per line, read as they are needed: memory does not grow with the file."""
    with path.open("rb") as handle:
        if b"\x00" in handle.read(8192):
            raise ArticleError(f"{path}: looks like a binary file, not text")
        handle.seek(0)
        empty = True
        for number, data in enumerate(handle, start=1):
            try:
                line = data.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise ArticleError(f"{path}:{number}: not UTF-8 text") from None
            if line.strip():
                empty = False
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ArticleError(f"{where}: invalid JSON ({exc.msg})") from None
                yield article_from_dict(record, where)
        if empty:
            raise ArticleError(f"{path}: the file is empty")


def _load_json(path: Path, raw: str) -> Iterator[Article]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ArticleError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    records = data if isinstance(data, list) else [data]
    for index, record in enumerate(records):
        yield article_from_dict(record, f"{path}[{index}]" if isinstance(data, list) else str(path))


def load_file(path: Path) -> Iterator[Article]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(
            f"{path}: unsupported file type (use {', '.join(sorted(SUPPORTED_SUFFIXES))})"
        )
    if suffix == ".jsonl":
        yield from _load_jsonl(path)
        return
    raw = _read_text_file(path)
    if suffix in JSON_SUFFIXES:
        yield from _load_json(path, raw)
    elif suffix in HTML_SUFFIXES:
        yield parse_html(raw, where=str(path))
    else:
        yield parse_text(raw, where=str(path), markdown=suffix == ".md")


def load_path(path: Path) -> Iterator[Article]:
    """Articles from a file, or from every supported file below a folder (sorted, recursive)."""
    if not path.exists():
        raise ArticleError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
        )
        if not files:
            raise ArticleError(f"{path}: no article files in this folder")
        for file in files:
            yield from load_file(file)
    else:
        yield from load_file(path)


def with_published_at(article: Article, published_at: str | None) -> Article:
    if not published_at:
        return article
    return replace(article, published_at=_clean_date(published_at, article.title))


def parse_published_at(value: str, where: str = "--published-at") -> str:
    """A publication date given by hand, checked before anything is read or stored."""
    day = read_date(value)
    if day is None:
        raise ArticleError(f"{where}: {value[:80]!r} is not a date like 2023-05-29")
    return day.isoformat()


def dated(articles: Iterator[Article], published_at: str | None) -> Iterator[Article]:
    """Articles that carry no date of their own (plain text, a page without date metadata)
    get `published_at`; those with one keep theirs."""
    for article in articles:
        if published_at and not article.published_at:
            article = replace(article, published_at=published_at)
        yield article
