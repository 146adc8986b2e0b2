"""The `newsbot` command. Only click is imported up front, so `newsbot --help` is instant;
settings are read and the service is built once, by the first command that needs them."""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from retrieval.config import Settings
    from retrieval.service import NewsService

KB_OPTION = click.option(
    "--kb", default="default", show_default=True, help="Knowledge base (collection) to use."
)


@dataclass
class Context:
    """Holds settings and the service: built on first use and closed on exit, or passed in
    (tests, embedding) and then left open for the caller."""

    _settings: Settings | None = None
    _service: NewsService | None = None
    _built_here: bool = field(default=False, init=False)
    # Set by the long-running commands (discord, chat, watch, ingest) before they first touch the
    # service: they serve their embedded store to the other newsbot commands (issue 19).
    serve: bool = field(default=False, init=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from retrieval.config import Settings

            self._settings = Settings()
        return self._settings

    @property
    def service(self) -> NewsService:
        if self._service is None:
            from retrieval.build import build_service

            self._service = build_service(self.settings, serve=self.serve)
            self._built_here = True
        return self._service

    def close(self) -> None:
        if self._service is not None and self._built_here:
            self._service.close()


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


class NewsbotGroup(click.Group):
    """Turns the errors a user can cause into one line and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from pydantic import ValidationError

        from retrieval.errors import NewsbotError

        try:
            return super().invoke(ctx)
        except NewsbotError as exc:
            fail(str(exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            message = str(first.get("msg")).removeprefix("Value error, ")
            where = ".".join(str(x) for x in first.get("loc", ()))
            fail(f"invalid setting {where}: {message}" if where else f"invalid settings: {message}")


@click.group(cls=NewsbotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsbot")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Ask questions about news articles; every answer cites the passages it rests on."""
    state = ctx.ensure_object(Context)
    ctx.call_on_close(state.close)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@KB_OPTION
@click.option(
    "--published-at",
    metavar="YYYY-MM-DD",
    default=None,
    help="Publication date for articles that carry none of their own (plain text, "
    "pages without date metadata).",
)
@click.pass_obj
def ingest(obj: Context, sources: tuple[str, ...], kb: str, published_at: str | None) -> None:
    """Add articles from files (.txt .md .html .json .jsonl), folders or http(s) URLs.

    Streams: articles are stored a batch at a time, and running it again after an
    interruption skips what is already stored."""
    from retrieval.service import count_articles, parse_published_at

    if published_at is not None:
        published_at = parse_published_at(published_at)  # before anything is opened
    counts = [count_articles(source) for source in sources]  # a missing file: before loading
    obj.serve = True  # a long ingest leaves the store usable by the other commands
    service = obj.service
    total = None if None in counts else sum(c for c in counts if c is not None)
    show_bar = total is not None and total > 1 and sys.stderr.isatty()
    with click.progressbar(
        length=total or 0,
        label="Ingesting",
        file=sys.stderr,
        hidden=not show_bar,
        show_pos=True,
    ) as bar:
        tally = service.ingest(
            sources,
            kb=kb,
            batch_articles=obj.settings.ingest_batch_articles,
            on_result=lambda _: bar.update(1),
            on_error=lambda exc: click.echo(f"\rerror: {exc}", err=True),
            published_at=published_at,
        )
    click.echo(tally.summary())
    if tally.failed:
        sys.exit(1)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.option("--k", type=click.IntRange(1, 50), default=None, help="Passages to retrieve.")
@KB_OPTION
@click.pass_obj
def ask(obj: Context, question: str, as_json: bool, k: int | None, kb: str) -> None:
    """Answer QUESTION from the stored articles, with cited sources."""
    from bot.render import render_answer

    answer = obj.service.ask(question, kb=kb, k=k)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        click.echo(render_answer(answer))


@main.command()
@KB_OPTION
@click.pass_obj
def chat(obj: Context, kb: str) -> None:
    """Chat in the terminal: follow-up questions, /sources, /quit."""
    from bot.chat import run_chat

    obj.serve = True
    run_chat(obj.service, kb=kb)


@main.command()
@KB_OPTION
@click.pass_obj
def articles(obj: Context, kb: str) -> None:
    """List the stored articles."""
    from bot.render import render_articles

    click.echo(render_articles(obj.service.list(kb=kb)))


@main.command()
@click.argument("article_id")
@KB_OPTION
@click.pass_obj
def remove(obj: Context, article_id: str, kb: str) -> None:
    """Remove the article ARTICLE_ID and all its passages."""
    if not obj.service.remove(article_id, kb=kb):
        fail(f"no article with id {article_id!r} in knowledge base {kb!r}")
    click.echo(f"removed {article_id}")


@main.command()
@click.option(
    "--repair", is_flag=True, help="Mend what is found, from the article records (see below)."
)
@click.option("--kb", default=None, help="Only this knowledge base [default: all].")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
@click.pass_obj
def check(obj: Context, repair: bool, kb: str | None, as_json: bool) -> None:
    """Check that the article records, passage vectors, BM25 index and sentence vectors
    agree; one line per knowledge base.

    Exit status 0 when all is well (or was mended by --repair), 1 when damage is found
    (without --repair: run `newsbot check --repair`) or remains. --repair deletes orphan
    passages and stale rows, adds missing BM25 rows, and embeds again only the articles
    whose passages were lost."""
    from bot.render import render_check

    outcomes = obj.service.check(kb=kb, repair=repair)
    clean = all(outcome.clean for outcome in outcomes)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "clean": clean,
                    "repaired": repair,
                    "knowledge_bases": [outcome.to_json() for outcome in outcomes],
                },
                ensure_ascii=False,
            )
        )
    elif not outcomes:
        click.echo("no knowledge bases to check")
    else:
        for outcome in outcomes:
            click.echo(render_check(outcome))
    if not clean:
        if not repair and not as_json:
            click.echo("damage found: run `newsbot check --repair` to mend it", err=True)
        sys.exit(1)


@main.group()
def feeds() -> None:
    """Follow RSS and Atom feeds: `newsbot watch` stores their new articles."""


@feeds.command(name="add")
@click.argument("url")
@KB_OPTION
@click.option(
    "--every",
    "minutes",
    type=click.IntRange(1, 7 * 24 * 60),
    default=None,
    metavar="MINUTES",
    help="Poll it every MINUTES minutes [default: NEWSBOT_FEED_INTERVAL_S].",
)
@click.pass_obj
def feeds_add(obj: Context, url: str, kb: str, minutes: int | None) -> None:
    """Follow the feed at URL (read once now, to check it is a feed)."""
    feed, created = obj.service.follow_feed(
        url, kb=kb, interval_s=minutes * 60 if minutes else None
    )
    if created:
        click.echo(f"following {feed.name} into {kb!r} (feed {feed.id}); `newsbot watch` reads it")
    else:
        click.echo(f"already following {feed.name} into {kb!r} (feed {feed.id}); it is active")


@feeds.command(name="list")
@click.option("--kb", default=None, help="Only the feeds of this knowledge base [default: all].")
@click.pass_obj
def feeds_list(obj: Context, kb: str | None) -> None:
    """List the followed feeds: state, last poll, last error."""
    from bot.render import render_feeds

    click.echo(render_feeds(obj.service.feeds_followed(kb=kb)))


@feeds.command(name="remove")
@click.argument("feed")
@click.option("--kb", default=None, help="The knowledge base it is followed into, if not unique.")
@click.pass_obj
def feeds_remove(obj: Context, feed: str, kb: str | None) -> None:
    """Stop following FEED (its number in `feeds list`, or its URL); its articles stay."""
    removed = obj.service.unfollow_feed(feed, kb=kb)
    if removed is None:
        fail(f"no feed {feed!r} is followed" + (f" into {kb!r}" if kb else ""))
    click.echo(f"stopped following {removed.name} (feed {removed.id}); its articles stay")


WATCH_TICK_S = 30.0  # how often `watch` looks for feeds followed meanwhile by another process


@main.command()
@click.option("--once", is_flag=True, help="Poll every followed feed once, now, and stop.")
@click.pass_obj
def watch(obj: Context, once: bool) -> None:
    """Poll the followed feeds, each on its interval, until stopped (Ctrl-C)."""
    import time

    from bot.render import render_poll

    obj.serve = True
    service = obj.service

    def report(poll: Any) -> None:
        click.echo(render_poll(poll), err=poll.error is not None)

    if once:
        if not service.feeds_followed():
            click.echo("No feeds followed. Follow one with: newsbot feeds add URL")
            return
        reports = service.poll_feeds(due_only=False, on_report=report)
        added = sum(len(r.added) for r in reports)
        failed = sum(r.error is not None for r in reports)
        click.echo(f"polled {len(reports)} feed(s): {added} new article(s), {failed} failed")
        if failed:
            sys.exit(1)
        return
    click.echo("watching the followed feeds; Ctrl-C stops", err=True)
    try:
        while True:
            service.poll_feeds(on_report=report)
            due = service.next_feed_due()
            wait = WATCH_TICK_S if due is None else min(max(due - time.time(), 1.0), WATCH_TICK_S)
            time.sleep(wait)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


@main.command()
@click.argument("topic", required=False)
@click.option(
    "--days", type=click.IntRange(1, 3650), default=7, show_default=True, help="How far back."
)
@click.option(
    "--limit", type=click.IntRange(1, 50), default=10, show_default=True, help="At most this many."
)
@click.option("--json", "as_json", is_flag=True, help="Print the articles as one JSON array.")
@KB_OPTION
@click.pass_obj
def latest(obj: Context, topic: str | None, days: int, limit: int, as_json: bool, kb: str) -> None:
    """The newest articles (on TOPIC: those that match it), newest first, dated and linked,
    each with the sentence that says what it reports."""
    from dataclasses import asdict

    from bot.render import render_latest

    found = obj.service.latest(topic, kb=kb, days=days, limit=limit)
    if as_json:
        click.echo(json.dumps([asdict(c) for c in found], ensure_ascii=False))
    else:
        click.echo(render_latest(found, topic=topic, days=days))


@main.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@KB_OPTION
@click.option(
    "--no-vectors",
    is_flag=True,
    help="Leave the vectors out: a smaller file; `import` embeds the articles again.",
)
@click.pass_obj
def export_kb(obj: Context, file: Path, kb: str, no_vectors: bool) -> None:
    """Write a knowledge base to FILE, one portable file: its articles with their metadata
    and vectors, its feeds, its Discord servers' settings (docs/export-format.md)."""
    click.echo(obj.service.export_kb(file, kb=kb, vectors=not no_vectors).summary())


@main.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kb", default=None, help="Knowledge base to import into [default: the file's own].")
@click.option(
    "--re-embed",
    is_flag=True,
    help="Embed the articles again with this newsbot's model, not the file's vectors "
    "(needed when the file's are of another model).",
)
@click.pass_obj
def import_kb(obj: Context, file: Path, kb: str | None, re_embed: bool) -> None:
    """Add what an export FILE holds to this newsbot's store (embedded, or the Chroma
    server of NEWSBOT_CHROMA_URL); what is stored already is left as it is."""
    obj.serve = True  # a long import leaves the store usable by the other commands
    click.echo(obj.service.import_kb(file, kb=kb, re_embed=re_embed).summary())


@main.command(name="eval")
@click.argument("questions", type=click.Path(path_type=Path))
@click.option(
    "--corpus",
    "corpus",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    help="Corpus file (JSONL or any article file); repeat to combine several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("--baseline", is_flag=True, help="Also run the tutorial setup, for comparison.")
@click.option("--sweep", is_flag=True, help="Also show the abstention trade-off by threshold.")
@click.option(
    "--details",
    "details_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON line per question (gold, rank of the first passage holding it, "
    "answer, correct, lead correct) to this file, for error analysis.",
)
@click.pass_obj
def evaluate(
    obj: Context,
    questions: Path,
    corpus: tuple[Path, ...],
    as_json: bool,
    baseline: bool,
    sweep: bool,
    details_path: Path | None,
) -> None:
    """Measure retrieval, answers and abstention on QUESTIONS (JSONL) over a corpus."""
    from retrieval.evaluation.run import run_eval

    def progress(system: str, done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 25 == 0 or done == total):
            click.echo(f"\r{system}: {done}/{total}", err=True, nl=done == total)

    report = run_eval(
        obj.settings,
        questions,
        list(corpus),
        with_baseline=baseline,
        sweep=sweep,
        details_path=details_path,
        progress=progress,
    )
    if as_json:
        click.echo(json.dumps(report))
        return
    other = report.get("baseline", {})
    click.echo(f"{'metric':<28}{'newsbot':>10}" + (f"{'baseline':>10}" if other else ""))
    for key, value in report.items():
        if key in ("baseline", "abstention_sweep"):
            continue
        line = f"{key:<28}{_fmt(value):>10}"
        if other:
            line += f"{_fmt(other.get(key)):>10}"
        click.echo(line)
    if report.get("abstention_sweep"):
        columns = [
            "min_score",
            "answer_accuracy",
            "false_abstain_rate",
            "unanswerable_abstain_rate",
        ]
        click.echo("\nabstention trade-off (abstain when the lead sentence scores below min_score)")
        click.echo("".join(f"{c:>27}" for c in columns))
        for row in report["abstention_sweep"]:
            click.echo("".join(f"{_fmt(row[c]):>27}" for c in columns))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


@main.command(name="discord")
@click.pass_obj
def run_discord(obj: Context) -> None:
    """Run the Discord bot (token from DISCORD_TOKEN, in the environment or .env)."""
    from bot.discord_bot.app import bot_token, run_bot  # discord.py loads only here
    from bot.discord_bot.settings import DiscordSettings

    options = DiscordSettings()
    bot_token(options)  # before the store is opened
    obj.serve = True
    service = obj.service
    run_bot(service=service, options=options, embeddings=service.embeddings)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option("--quick", is_flag=True, help="Run at a tenth of the size, for a fast look.")
@click.option(
    "--eval-set",
    type=click.Choice(["rtqa", "rgb", "none"]),
    default=None,
    help="Eval run under torch and under onnx-int8, to compare them "
    "[default: rtqa; none with --quick].",
)
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for latest.json and scaling.png [default: benchmarks/results].",
)
@click.option(
    "--max-size",
    type=click.Choice(["100k", "1m"]),
    default="100k",
    show_default=True,
    help="Largest store the bench grows (a tenth with --quick); 1m takes hours.",
)
def bench(
    as_json: bool, quick: bool, eval_set: str | None, results: Path | None, max_size: str
) -> None:
    """Measure ingest and query speed, memory and cold start (see benchmarks/README.md)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "performance").is_dir():
        fail("`newsbot bench` runs from a source checkout: benchmarks/ is not installed")
    sys.path.insert(0, str(root))
    from benchmarks.performance.report import render_markdown, render_text
    from benchmarks.performance.runner import run_bench

    result = run_bench(
        quick=quick,
        max_size=max_size,
        results_dir=results or root / "benchmarks" / "results",
        eval_set=None if eval_set == "none" or (quick and eval_set is None) else eval_set or "rtqa",
        log=lambda line: click.echo(line, err=True),
    )
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(render_text(result))
        click.echo("\n" + render_markdown(result))


def run() -> NoReturn:
    """The `newsbot` console script: `main`, then `finish`."""
    try:
        main()
    except SystemExit as exc:
        finish(exc.code)
    finish(0)


def finish(code: int | str | None) -> NoReturn:
    """End the process with `code` as `sys.exit` would, without the interpreter's teardown of
    the ~1,500 modules a command loads: Chroma's, LangChain's and onnxruntime's took 0.6 s of
    a cold `newsbot ask` (3.8 s). The atexit handlers still run and the output is flushed;
    while any other non-daemon thread is alive, the usual exit (which waits for it) is taken."""
    if isinstance(code, str):
        click.echo(code, err=True)
        code = 1
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`newsbot articles | head -1`)
            code = code or 120  # as Python's own exit when it cannot flush
    os._exit(code or 0)


if __name__ == "__main__":  # python -m bot.cli
    run()
