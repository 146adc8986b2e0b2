"""The one object every front end uses: ask, add, list, remove — built once by
`retrieval.build.build_service`. Front ends import only this module (and `types`, `errors`,
`config`, `build`): what they may call is its `__all__`.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from retrieval.errors import ArticleError, QuestionError, StoreError
from retrieval.feeds.poller import SUMMARY_MARK
from retrieval.ingest.articles import article_from_dict, parse_published_at
from retrieval.ingest.sources import IngestTally, count_articles, ingest_sources, is_url
from retrieval.ingest.uploads import (
    MAX_UPLOAD_BYTES,
    UPLOAD_SUFFIXES,
    article_from_text,
    articles_from_file,
)
from retrieval.types import (
    AddResult,
    Answer,
    Article,
    CheckOutcome,
    Citation,
    Feed,
    Feedback,
    Passage,
    PollReport,
    Question,
    ServerSettings,
    StoredArticle,
    Turn,
)

if TYPE_CHECKING:
    from pathlib import Path

    from retrieval.feeds.poller import FeedPoller
    from retrieval.index.embeddings import SentenceEmbeddings
    from retrieval.index.retriever import HybridRetriever
    from retrieval.index.server_records import ServerRecords
    from retrieval.index.store import ArticleStore
    from retrieval.ingest.ingester import Ingester
    from retrieval.pipeline import AnswerPipeline
    from retrieval.portable.transfer import ExportReport, ImportReport

__all__ = [
    "DEFAULT_KB",
    "LATEST_DAYS",
    "MAX_UPLOAD_BYTES",
    "SUMMARY_MARK",
    "UPLOAD_SUFFIXES",
    "IngestTally",
    "NewsService",
    "article_from_dict",
    "article_from_text",
    "articles_from_file",
    "count_articles",
    "is_url",
    "parse_published_at",
]

DEFAULT_KB = "default"
LATEST_DAYS = 7  # "what's new" looks this many days back unless told otherwise
LATEST_LIMIT = 10
LEDE_MIN_CHARS = 40  # a dateline ("LONDON —") or a one-word line is not what an article reports


class NewsService:
    """Questions and articles of named knowledge bases. Every call blocks (model, disk,
    network): the Discord bot runs them in worker threads."""

    def __init__(
        self,
        *,
        pipeline: AnswerPipeline,
        retriever: HybridRetriever,
        ingester: Ingester,
        load: Callable[[str], Iterator[Article]],
        fetch: Callable[[str], Article],
        top_k: int,
        max_question_chars: int,
        clock: Callable[[], date | None],
        records: ServerRecords | None = None,
        feeds: FeedPoller | None = None,
        feed_interval_s: int = 900,
    ) -> None:
        self.pipeline = pipeline
        self.records = records
        self.feeds = feeds
        self.feed_interval_s = feed_interval_s
        self.retriever = retriever
        self.ingester = ingester
        self._load = load
        self._fetch = fetch
        self.top_k = top_k
        self.max_question_chars = max_question_chars
        # "today" for the question's time words; a clock returning None means the day of
        # asking is unknown (an eval set without dates), and time words then filter nothing.
        self.clock = clock

    @property
    def store(self) -> ArticleStore:
        return self.ingester.store

    @property
    def embeddings(self) -> SentenceEmbeddings:
        return self.ingester.embeddings

    @property
    def streams(self) -> bool:
        """Whether `stream` yields tokens before the answer (a language model answers)."""
        return bool(getattr(self.pipeline.answerer, "streams", False))

    # -- asking ------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        kb: str = DEFAULT_KB,
        k: int | None = None,
        history: Sequence[Turn] = (),
        today: date | None = None,
    ) -> Answer:
        """Answer a question from the articles of `kb`. Time words ("latest", "last week")
        are resolved against `today`, else the service's clock."""
        asked = self._question(question, kb, k, history, today)
        return self._settled(self.pipeline.invoke(asked), asked)

    def stream(
        self,
        question: str,
        *,
        kb: str = DEFAULT_KB,
        k: int | None = None,
        history: Sequence[Turn] = (),
        today: date | None = None,
    ) -> Iterator[str | Answer]:
        """`ask`, with the language model's tokens first as it writes them (none for the
        extractive answerer), then the checked `Answer`."""
        asked = self._question(question, kb, k, history, today)
        for part in self.pipeline.stream(asked):
            yield self._settled(part, asked) if isinstance(part, Answer) else part

    async def astream(
        self,
        question: str,
        *,
        kb: str = DEFAULT_KB,
        k: int | None = None,
        history: Sequence[Turn] = (),
        today: date | None = None,
    ) -> AsyncIterator[str | Answer]:
        """`stream` for asyncio."""
        import asyncio

        asked = self._question(question, kb, k, history, today)
        async for part in self.pipeline.astream(asked):
            if isinstance(part, Answer):
                yield await asyncio.to_thread(self._settled, part, asked)
            else:
                yield part

    def retrieve(self, question: str, kb: str = DEFAULT_KB, k: int | None = None) -> list[Passage]:
        """The k best passages (hybrid: dense and BM25, fused), without repeats."""
        return self.retriever.search(question, kb, k or self.top_k)

    def _question(
        self, text: str, kb: str, k: int | None, history: Sequence[Turn], today: date | None
    ) -> Question:
        text = text.strip()
        if not text:
            raise QuestionError("the question is empty")
        if len(text) > self.max_question_chars:
            raise QuestionError(
                f"the question is too long ({len(text)} characters; "
                f"the limit is {self.max_question_chars})"
            )
        if k is not None and not 1 <= k <= 50:
            raise QuestionError("k must be between 1 and 50")
        return Question(text, kb, k or self.top_k, tuple(history), today or self.clock())

    def _settled(self, answer: Answer, question: Question) -> Answer:
        """An article removed or updated while this answer was composed from its passages:
        answer again, so no citation ever quotes a text that is gone (retrieval returns only
        passages of stored articles' current versions). Several tries: while an admin removes
        articles one after another, each answer can cite one removed moments after its
        retrieval."""
        for _ in range(10):
            cited = {c.chunk_id for c in answer.citations}
            if len(self.store.get_passages(question.kb, sorted(cited))) == len(cited):
                return answer
            answer = self.pipeline.invoke(question)
        raise RuntimeError("the articles kept changing while the question was answered")

    # -- adding ------------------------------------------------------------------------
    def load(self, source: str) -> Iterator[Article]:
        """Articles from a path (file or folder) or an http(s) URL."""
        return self._load(source)

    def fetch(self, url: str) -> Article:
        """The article at an http(s) URL, and never a local file: for sources from strangers."""
        if not is_url(url):
            raise ArticleError(f"{url[:200]}: only http:// and https:// web addresses")
        return self._fetch(url)

    def add(self, article: Article, *, kb: str = DEFAULT_KB) -> AddResult:
        return self.add_many([article], kb=kb)[0]

    def add_many(
        self,
        articles: Iterable[Article],
        *,
        kb: str = DEFAULT_KB,
        on_result: Callable[[AddResult], None] | None = None,
    ) -> list[AddResult]:
        """Store the articles not yet known; see `Ingester.add_many`."""
        return self.ingester.add_many(articles, kb=kb, on_result=on_result)

    def ingest(
        self,
        sources: Sequence[str],
        *,
        kb: str = DEFAULT_KB,
        batch_articles: int,
        published_at: str | None = None,
        on_result: Callable[[AddResult], None] | None = None,
        on_error: Callable[[ArticleError], None] | None = None,
    ) -> IngestTally:
        """Every article of `sources` (paths or URLs), streamed `batch_articles` at a time;
        a source or an article that fails is reported to `on_error` and the rest go on."""
        return ingest_sources(
            self.ingester,
            sources,
            self.load,
            kb=kb,
            batch_articles=batch_articles,
            published_at=published_at,
            on_result=on_result,
            on_error=on_error,
        )

    # -- the rest ----------------------------------------------------------------------
    def list(self, *, kb: str = DEFAULT_KB) -> list[StoredArticle]:
        return self.store.list_articles(kb)

    def get(self, article_id: str, *, kb: str = DEFAULT_KB) -> Article | None:
        return self.store.get_article(kb, article_id)

    def remove(self, article_id: str, *, kb: str = DEFAULT_KB) -> bool:
        return self.store.remove_article(kb, article_id)

    def check(self, *, kb: str | None = None, repair: bool = False) -> builtins.list[CheckOutcome]:
        """Whether each knowledge base (or `kb`) has its records, passage vectors, BM25 rows
        and sentence vectors in agreement. With `repair`, mend them from the records: orphans
        and stale rows deleted, missing BM25 rows added, and the articles whose passages were
        lost embedded again (only those); then check again."""
        known = self.store.checked_knowledge_bases()
        if kb is not None and kb not in known:
            there = ", ".join(repr(name) for name in known) or "none"
            raise StoreError(f"no knowledge base {kb!r} (there are: {there})")
        outcomes = []
        for name in [kb] if kb is not None else known:
            found = self.store.check(name, mend=repair)
            if not repair or found.clean:
                outcomes.append(CheckOutcome(found))
                continue
            restored = self.ingester.restore(name, found.gaps) if found.gaps else []
            outcomes.append(CheckOutcome(found, self.store.check(name), tuple(restored)))
        return outcomes

    # -- Discord servers: their settings and the votes on answers --------------------------
    def server_settings(self, guild_id: int) -> ServerSettings:
        return self._records().settings(guild_id)

    def save_server_settings(self, guild_id: int, settings: ServerSettings) -> None:
        self._records().save_settings(guild_id, settings)

    def record_feedback(self, feedback: Feedback) -> Feedback:
        """Store a vote on an answer (with its question, answer and knowledge base)."""
        return self._records().add_feedback(feedback)

    def feedback(self, guild_id: int, *, limit: int = 10) -> builtins.list[Feedback]:
        """The server's latest votes, newest first."""
        return self._records().feedback(guild_id, limit=limit)

    def _records(self) -> ServerRecords:
        if self.records is None:
            raise RuntimeError("this service was built without server records")
        return self.records

    # -- feeds -------------------------------------------------------------------------------
    def follow_feed(
        self,
        url: str,
        *,
        kb: str = DEFAULT_KB,
        guild_id: int | None = None,
        interval_s: int | None = None,
    ) -> tuple[Feed, bool]:
        """Follow an RSS or Atom feed into `kb` (read once now, through the guarded fetcher,
        to check it is a feed); (the feed, whether it is newly followed). Following a feed
        again resumes it if it was paused. Its entries are read by the next poll."""
        from retrieval.feeds.parse import parse_feed

        poller = self._poller()
        url = url.strip()
        if not is_url(url):
            raise ArticleError(f"{url[:200]}: a feed is an http:// or https:// web address")
        if len(url) > 2000:
            raise ArticleError("the feed's address is longer than 2000 characters")
        self.store.has_article(kb, "-")  # an invalid knowledge base name fails here
        document = parse_feed(poller.fetch_feed(url, {}).body, where=url, max_entries=1)
        return poller.records.add(
            kb=kb,
            url=url,
            title=document.title,
            guild_id=guild_id,
            interval_s=interval_s or self.feed_interval_s,
        )

    def feeds_followed(
        self, *, kb: str | None = None, guild_id: int | None = None
    ) -> builtins.list[Feed]:
        """The feeds followed into `kb`, or by a Discord server, or all; in order followed."""
        return self._poller().records.feeds(kb=kb, guild_id=guild_id)

    def unfollow_feed(
        self, feed: str, *, kb: str | None = None, guild_id: int | None = None
    ) -> Feed | None:
        """Stop following a feed, named by its number or URL, among those of `kb` (or of the
        server): the feed it was, or None. Its articles stay."""
        feed = feed.strip()
        for followed in self.feeds_followed(kb=kb, guild_id=guild_id):
            if feed in (str(followed.id), followed.url):
                self._poller().records.remove(followed.id)
                return followed
        return None

    def poll_feeds(
        self,
        *,
        due_only: bool = True,
        on_report: Callable[[PollReport], None] | None = None,
        guilds: Callable[[int | None], bool] | None = None,
    ) -> builtins.list[PollReport]:
        """Poll the followed feeds that are due (or every active one; with `guilds`, only
        those of the servers it accepts: None is a feed followed from the shell) and store
        their new entries; each feed's report goes to `on_report` as it finishes."""
        return self._poller().poll_due(due_only=due_only, on_report=on_report, guilds=guilds)

    def next_feed_due(self) -> float | None:
        """When the next feed is due (seconds since the epoch); None when none is followed."""
        return self._poller().records.next_due()

    def _poller(self) -> FeedPoller:
        if self.feeds is None:
            raise RuntimeError("this service was built without feeds")
        return self.feeds

    # -- export and import --------------------------------------------------------------------
    def export_kb(self, path: Path, *, kb: str = DEFAULT_KB, vectors: bool = True) -> ExportReport:
        """Write `kb` to one portable file at `path` (see `retrieval.portable`): its articles
        as stored, with their vectors unless `vectors` is False, its feeds, its Discord
        servers' settings and the votes on its answers."""
        from importlib.metadata import PackageNotFoundError, version

        from retrieval.portable.transfer import export_kb

        try:
            newsbot = version("newsbot")
        except PackageNotFoundError:  # (run from a checkout without installing)
            newsbot = "unknown"
        return export_kb(
            store=self.store,
            feeds=self.feeds.records if self.feeds is not None else None,
            servers=self.records,
            kb=kb,
            path=path,
            vectors=vectors,
            model=getattr(self.embeddings, "model_name", None),
            space=getattr(self.embeddings, "vector_space", None),
            newsbot=newsbot,
        )

    def import_kb(
        self, path: Path, *, kb: str | None = None, re_embed: bool = False
    ) -> ImportReport:
        """Add what an export file holds to `kb` (default: the one it was exported from);
        what is stored already is left as it is."""
        from retrieval.portable.transfer import import_kb

        return import_kb(
            store=self.store,
            ingester=self.ingester,
            feeds=self.feeds.records if self.feeds is not None else None,
            servers=self.records,
            path=path,
            kb=kb,
            re_embed=re_embed,
            space=getattr(self.embeddings, "vector_space", None),
        )

    # -- what's new --------------------------------------------------------------------------
    def latest(
        self,
        topic: str | None = None,
        *,
        kb: str = DEFAULT_KB,
        days: int = LATEST_DAYS,
        limit: int = LATEST_LIMIT,
        today: date | None = None,
    ) -> builtins.list[Citation]:
        """The newest articles of the last `days` days (on `topic`: those with every word of
        it, found through the BM25 index), newest first, each as a citation of one sentence of what it reports: its lede,
        or on a topic its sentence that says most about the topic. Undated articles are
        not news by date and are left out."""
        from retrieval.text.sentences import split_sentences
        from retrieval.text.terms import content_terms

        if not 1 <= days <= 3650:
            raise QuestionError("days must be between 1 and 3650")
        topic = (topic or "").strip()
        if len(topic) > self.max_question_chars:
            raise QuestionError(f"the topic is too long (the limit is {self.max_question_chars})")
        day = today or self.clock() or date.today()
        since, until = (day - timedelta(days=days)).isoformat(), day.isoformat()

        def recent(published_at: str | None) -> bool:
            return published_at is not None and since <= published_at[:10] <= until

        if topic:
            hits = self.store.lexical_search(kb, topic, 200)
            found = self.store.get_passages(kb, [chunk_id for chunk_id, _ in hits])
            wanted = set(content_terms(topic))
            best: dict[str, Passage] = {}
            for chunk_id, _ in hits:  # best first: an article's best passage
                passage = found.get(chunk_id)
                if passage is not None and recent(passage.published_at):
                    best.setdefault(passage.article_id, passage)
            # every word of the topic, somewhere in the article (BM25 finds any of them)
            for article_id in list(best):
                article = self.store.get_article(kb, article_id)
                words = set(content_terms(f"{article.title}\n{article.text}")) if article else set()
                if not wanted <= words:
                    del best[article_id]
            order = {article_id: rank for rank, article_id in enumerate(best)}
            chosen = sorted(
                best.values(), key=lambda p: (p.published_at or "", -order[p.article_id]),
                reverse=True,
            )[:limit]  # fmt: skip
        else:
            articles = [a for a in self.store.list_articles(kb) if recent(a.published_at)]
            ledes = self.store.get_passages(kb, [f"{a.id}:0" for a in articles[:limit]])
            chosen = [ledes[f"{a.id}:0"] for a in articles[:limit] if f"{a.id}:0" in ledes]
        wanted = set(content_terms(topic))
        citations: builtins.list[Citation] = []
        for n, passage in enumerate(chosen, start=1):
            spans = split_sentences(passage.text) or [(0, len(passage.text))]
            if wanted:
                start, end = max(
                    spans,
                    key=lambda s: len(wanted & set(content_terms(passage.text[s[0] : s[1]]))),
                )
            else:
                start, end = next((s for s in spans if s[1] - s[0] >= LEDE_MIN_CHARS), spans[0])
            citations.append(Citation.of(n, passage, passage.text[start:end]))
        return citations

    def close(self) -> None:
        if self.feeds is not None:
            self.feeds.records.close()
        if self.records is not None:
            self.records.close()
        self.store.close()
