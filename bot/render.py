"""Answers as terminal text: the answer with its [n] markers, then the numbered sources."""

from __future__ import annotations

import re
import textwrap

from retrieval.types import (
    Answer,
    CheckOutcome,
    Citation,
    Feed,
    KnowledgeBaseCheck,
    Passage,
    PollReport,
    StoredArticle,
)

__all__ = [
    "also_in_line",
    "date_note_line",
    "dropped_note",
    "every",
    "render_answer",
    "render_articles",
    "render_check",
    "render_feeds",
    "render_latest",
    "render_passages",
    "render_poll",
    "short_quote",
    "source_line",
]


def source_line(citation: Citation | Passage) -> str:
    """'Title — Source, 2023-05-29' with whatever of those is known."""
    details = ", ".join(x for x in (citation.source, citation.published_at) if x)
    return f"{citation.title} — {details}" if details else citation.title


def short_quote(quote: str, limit: int = 140) -> str:
    """The quote, cut at a word boundary with an ellipsis when it is long: the answer above
    already carries the whole sentence."""
    if len(quote) <= limit:
        return quote
    return quote[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _wrap_lines(text: str, width: int) -> list[str]:
    """Each line of the answer wrapped on its own: a timeline or a list of differing sources
    keeps one line per entry, its continuation indented under the entry."""
    lines: list[str] = []
    for line in text.split("\n"):
        indent = "  " if line.startswith("- ") or re.match(r"\d{1,2} \w+ \d{4}: ", line) else ""
        lines += textwrap.wrap(line, width, subsequent_indent=indent) or [line]
    return lines


def date_note_line(citation: Citation) -> str | None:
    """'“last month” = March 2024; “on Sunday” = 3 March 2024' for the quote's relative dates."""
    if not citation.date_notes:
        return None
    return "; ".join(f"“{note.phrase}” = {note.means}" for note in citation.date_notes)


def also_in_line(citation: Citation) -> str | None:
    """'Also in: Wyn Valley News (2024-03-05), The Courier': the other outlets (else their
    headlines) that carry the cited fact, each with its date."""
    if not citation.also_in:
        return None
    names = [
        f"{other.source or other.title}"
        + (f" ({other.published_at})" if other.published_at else "")
        for other in citation.also_in
    ]
    return "Also in: " + ", ".join(names)


def render_answer(answer: Answer, width: int = 88) -> str:
    lines = _wrap_lines(answer.answer, width)
    if answer.notice:
        lines.insert(0, f"({answer.notice})")
    if answer.dropped and not answer.notice:
        lines.append(f"({dropped_note(answer.dropped)})")
    if answer.time_note:
        lines += textwrap.wrap(f"({answer.time_note})", width)
    if answer.citations:
        lines += ["", "Sources:"]
        for citation in answer.citations:
            lines.append(f"[{citation.n}] {source_line(citation)}")
            quote = textwrap.wrap(f"“{short_quote(citation.quote)}”", width - 4)
            lines += [f"    {line}" for line in quote]
            notes = date_note_line(citation)
            if notes:
                lines += [f"    {line}" for line in textwrap.wrap(f"({notes})", width - 4)]
            also = also_in_line(citation)
            if also:
                lines += [f"    {line}" for line in textwrap.wrap(also, width - 4)]
            if citation.url:
                lines.append(f"    {citation.url}")
    return "\n".join(lines)


def dropped_note(dropped: list[str]) -> str:
    """Says plainly that generated sentences were removed, and which."""
    count = f"{len(dropped)} sentence{'s' if len(dropped) != 1 else ''}"
    quoted = "; ".join(f"“{short_quote(s, 80)}”" for s in dropped)
    return f"Removed {count} the cited passages do not support: {quoted}"


def render_passages(passages: list[Passage], width: int = 88) -> str:
    if not passages:
        return "No passages were retrieved."
    lines = []
    for index, passage in enumerate(passages, start=1):
        lines.append(f"({index}) {source_line(passage)}  [score {passage.score:.3f}]")
        lines += [f"    {line}" for line in textwrap.wrap(passage.text, width - 4)]
        lines.append(f"    id {passage.chunk_id}")
    return "\n".join(lines)


def render_articles(articles: list[StoredArticle]) -> str:
    if not articles:
        return "No articles yet. Add some with: newsbot ingest PATH_OR_URL"
    rows = [
        f"{a.id}  {a.published_at or '----------'}  {a.chunks:>3} chunks  {a.title}"
        + (f"  (updated {a.updated_at[:10]})" if a.updated_at else "")
        for a in articles
    ]
    return "\n".join([*rows, f"{len(articles)} article(s)"])


def every(seconds: float) -> str:
    """'15 min', '2 h', '1 day', '45 s'"""
    if seconds >= 86400 and seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{int(seconds)} s"


def render_feeds(feeds: list[Feed]) -> str:
    """One block per feed: number, state, name, knowledge base and URL; when it was polled,
    how often, the entries read; its note and last error."""
    if not feeds:
        return "No feeds followed. Follow one with: newsbot feeds add URL"
    lines = []
    for feed in feeds:
        lines.append(f"{feed.id:>3}  {feed.state:<6}  {feed.name}  [{feed.kb}]")
        lines.append(f"     {feed.url}")
        polled = (
            feed.last_polled_at.replace("T", " ")[:16] + " UTC" if feed.last_polled_at else "never"
        )
        lines.append(
            f"     polled {polled} · every {every(feed.interval_s)} · "
            f"{feed.entries_seen} entries read"
        )
        if feed.note:
            lines.append(f"     note: {feed.note}")
        if feed.last_error:
            count = f"{feed.failures} failure{'s' if feed.failures != 1 else ''} in a row"
            lines.append(f"     last error ({count}): {feed.last_error}")
        if feed.state == "paused":
            lines.append("     paused: `newsbot feeds add URL` again resumes it")
    return "\n".join([*lines, f"{len(feeds)} feed(s)"])


def render_poll(report: PollReport) -> str:
    """What one poll of one feed did, in a line (and a line per entry left out)."""
    name = report.feed.name
    if report.error:
        if report.feed.state == "paused":
            return f"{name}: failed, paused after {report.feed.failures} in a row: {report.error}"
        return (
            f"{name}: failed ({report.feed.failures} in a row, tried again later): {report.error}"
        )
    if report.not_modified:
        return f"{name}: not modified"
    added = len(report.added)
    parts = [f"{added} new article{'s' if added != 1 else ''}"]
    if report.summaries:
        parts[0] += f" ({report.summaries} from the feed's summary)"
    if report.duplicates:
        parts.append(f"{report.duplicates} already stored")
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    lines = [f"{name}: {', '.join(parts)}"]
    lines += [f"  skipped {reason}" for reason in report.skipped]
    if report.note:
        lines.append(f"  note: {report.note}")
    return "\n".join(lines)


def render_latest(
    citations: list[Citation], *, topic: str | None, days: int, width: int = 88
) -> str:
    """The newest articles, newest first, each cited as an answer's sources are: `[n] Title —
    Source, date`, the sentence it reports (whole), and its link."""
    about = f" about “{topic}”" if topic else ""
    span = "day" if days == 1 else f"{days} days"
    if not citations:
        return f"No articles from the last {span}{about}."
    lines = [f"Newest articles of the last {span}{about}:"]
    for citation in citations:
        lines += ["", f"[{citation.n}] {source_line(citation)}"]
        lines += [f"    {line}" for line in textwrap.wrap(citation.quote, width - 4)]
        if citation.url:
            lines.append(f"    {citation.url}")
    return "\n".join(lines)


_DAMAGE_WORDS = {
    "orphan_chunks": "{} orphan passage(s) (no article owns them)",
    "gaps": "{} article(s) missing passages",
    "missing_chunks": "{} passage(s) missing",
    "missing_lexical": "{} passage(s) without their BM25 row",
    "stale_lexical": "{} stale BM25 row(s)",
    "stale_sentences": "{} stale sentence vector(s)",
    "unfinished": "{} unfinished update(s)",
}


def damage_line(check: KnowledgeBaseCheck) -> str:
    """'3 orphan passage(s) (no article owns them), 1 article(s) missing passages, ...'."""
    return ", ".join(_DAMAGE_WORDS[kind].format(n) for kind, n in check.damage().items())


def render_check(outcome: CheckOutcome) -> str:
    """One line per knowledge base: what it holds, and its damage (found, and repaired)."""
    found = outcome.found
    head = f"{found.kb}: {found.articles} article(s), {found.passages} passage(s)"
    if found.clean:
        return f"{head}: ok"
    if outcome.after is None:
        return f"{head}: {damage_line(found)}"
    if outcome.after.clean:
        return f"{head}: repaired {damage_line(found)}"
    return f"{head}: {damage_line(found)}; still after repair: {damage_line(outcome.after)}"
