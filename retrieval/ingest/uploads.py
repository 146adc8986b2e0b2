"""Articles from what a server member hands the bot: pasted text or an attached file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import PurePath

from retrieval.errors import ArticleError
from retrieval.ingest.articles import article_from_dict, make_article, parse_html, parse_text
from retrieval.types import Article

__all__ = ["MAX_UPLOAD_BYTES", "UPLOAD_SUFFIXES", "article_from_text", "articles_from_file"]

UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ARTICLES_PER_FILE = 100


def article_from_text(text: str, title: str | None = None) -> Article:
    """Pasted text; without a title, a short first line becomes the headline."""
    if title and title.strip():
        return make_article(text=text, title=title, where="the text")
    return parse_text(text, where="the text")


def articles_from_file(filename: str, data: bytes, title: str | None = None) -> list[Article]:
    """The article(s) in an uploaded file: text, Markdown, a web page, or JSON (one object with
    `title` and `text`, or a list of them). `title` overrides the headline of a single article."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ArticleError(f"{filename}: unsupported file type (use {', '.join(UPLOAD_SUFFIXES)})")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ArticleError(f"{filename}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{filename}: looks like a binary file, not text")
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleError(f"{filename}: not UTF-8 text") from None
    if not raw.strip():
        raise ArticleError(f"{filename}: the file is empty")
    if suffix == ".json":
        articles = _json_articles(filename, raw)
    elif suffix in (".html", ".htm"):
        articles = [parse_html(raw, where=filename)]
    else:
        articles = [parse_text(raw, where=filename, markdown=suffix == ".md")]
    if title and title.strip() and len(articles) == 1:
        articles = [replace(articles[0], title=title.strip())]
    return articles


def _json_articles(filename: str, raw: str) -> list[Article]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ArticleError(f"{filename}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, list):
        return [article_from_dict(data, filename)]
    if not data:
        raise ArticleError(f"{filename}: the list holds no articles")
    if len(data) > MAX_ARTICLES_PER_FILE:
        raise ArticleError(
            f"{filename}: {len(data)} articles; upload at most {MAX_ARTICLES_PER_FILE} at a time"
        )
    return [article_from_dict(record, f"{filename}[{i}]") for i, record in enumerate(data)]
