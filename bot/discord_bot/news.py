"""The news service as the bot sees it: the few calls it makes, and which errors it may show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from retrieval.errors import ArticleError
from retrieval.service import AddResult, QuestionError
from retrieval.types import Answer, Article, StoredArticle, Turn

__all__ = ["SHOWABLE_ERRORS", "NewsAPI"]

# Errors a user caused, whose messages are written to be shown to them. Anything else
# (StoreError included: it can name paths and servers) gets an apology and goes to the log.
SHOWABLE_ERRORS: tuple[type[Exception], ...] = (ArticleError, QuestionError)


class NewsAPI(Protocol):
    """What the bot needs of `retrieval.service.NewsService`. All calls block (model, disk,
    network), so the bot runs them in worker threads."""

    def ask(
        self, question: str, *, kb: str, k: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer: ...

    def add(self, article: Article, *, kb: str) -> AddResult: ...

    def fetch(self, url: str) -> Article: ...

    def list(self, *, kb: str) -> list[StoredArticle]: ...

    def remove(self, article_id: str, *, kb: str) -> bool: ...
