"""The news service as the bot sees it: the few calls it makes (all of `NewsService`)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Protocol

from retrieval.types import (
    AddResult,
    Answer,
    Article,
    Citation,
    Feed,
    Feedback,
    PollReport,
    ServerSettings,
    StoredArticle,
    Turn,
)

__all__ = ["NewsAPI"]


class NewsAPI(Protocol):
    """What the bot needs of `retrieval.service.NewsService`. All calls block (model, disk,
    network), so the bot runs them in worker threads. Errors it may show a member are the
    `NewsbotError`s whose `public` is true; any other gets an apology and goes to the log."""

    def ask(
        self, question: str, *, kb: str, k: int | None = None, history: Sequence[Turn] = ()
    ) -> Answer: ...

    def add(self, article: Article, *, kb: str) -> AddResult: ...

    def fetch(self, url: str) -> Article: ...

    def list(self, *, kb: str) -> list[StoredArticle]: ...

    def remove(self, article_id: str, *, kb: str) -> bool: ...

    def server_settings(self, guild_id: int) -> ServerSettings: ...

    def save_server_settings(self, guild_id: int, settings: ServerSettings) -> None: ...

    def record_feedback(self, feedback: Feedback) -> Feedback: ...

    def feedback(self, guild_id: int, *, limit: int = 10) -> builtins.list[Feedback]: ...

    def follow_feed(
        self, url: str, *, kb: str, guild_id: int | None = None, interval_s: int | None = None
    ) -> tuple[Feed, bool]: ...

    def feeds_followed(
        self, *, kb: str | None = None, guild_id: int | None = None
    ) -> builtins.list[Feed]: ...

    def unfollow_feed(
        self, feed: str, *, kb: str | None = None, guild_id: int | None = None
    ) -> Feed | None: ...

    def poll_feeds(
        self,
        *,
        due_only: bool = True,
        on_report: Callable[[PollReport], None] | None = None,
        guilds: Callable[[int | None], bool] | None = None,
    ) -> builtins.list[PollReport]: ...

    def latest(
        self, topic: str | None = None, *, kb: str, days: int = 7
    ) -> builtins.list[Citation]: ...
