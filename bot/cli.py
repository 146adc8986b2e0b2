"""The `newsbot` command. Only click is imported up front, so `newsbot --help` is instant;
settings are read and the service is built once, by the first command that needs them."""

from __future__ import annotations

import json
import sys
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

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from retrieval.config import Settings

            self._settings = Settings()
        return self._settings

    @property
    def service(self) -> NewsService:
        if self._service is None:
            from retrieval.service import build_service

            self._service = build_service(self.settings)
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

        from retrieval.articles import ArticleError
        from retrieval.service import QuestionError
        from retrieval.store import StoreError

        try:
            return super().invoke(ctx)
        except (ArticleError, QuestionError, StoreError) as exc:
            fail(str(exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ())) or "settings"
            fail(f"invalid setting {where}: {first.get('msg')}")


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
@click.pass_obj
def ingest(obj: Context, sources: tuple[str, ...], kb: str) -> None:
    """Add articles from files (.txt .md .html .json .jsonl), folders or http(s) URLs."""
    from retrieval.articles import ArticleError

    service = obj.service
    articles: list[Any] = []
    failed = 0
    for source in sources:
        try:
            articles.extend(service.load(source))
        except ArticleError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
    counts = {"added": 0, "unchanged": 0}
    chunks = 0
    if articles:
        show_bar = len(articles) > 1 and sys.stderr.isatty()
        with click.progressbar(
            length=len(articles), label="Ingesting", file=sys.stderr, hidden=not show_bar
        ) as bar:

            def progress(result: Any) -> None:
                nonlocal chunks
                counts[result.status] += 1
                chunks += result.chunks
                bar.update(1)

            try:
                service.add_many(articles, kb=kb, on_result=progress)
            except ArticleError as exc:
                failed += 1
                click.echo(f"error: {exc}", err=True)
    click.echo(
        f"added {counts['added']}, unchanged {counts['unchanged']}, failed {failed} "
        f"({chunks} chunks)"
    )
    if failed:
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


@main.command(name="eval")
@click.argument("questions", type=click.Path(path_type=Path))
@click.option("--corpus", required=True, type=click.Path(path_type=Path), help="Corpus JSONL.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("--baseline", is_flag=True, help="Also run the tutorial setup, for comparison.")
@click.pass_obj
def evaluate(obj: Context, questions: Path, corpus: Path, as_json: bool, baseline: bool) -> None:
    """Measure retrieval, answers and abstention on QUESTIONS (JSONL) over a corpus."""
    from retrieval.evaluation import run_eval

    def progress(system: str, done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 25 == 0 or done == total):
            click.echo(f"\r{system}: {done}/{total}", err=True, nl=done == total)

    report = run_eval(obj.settings, questions, corpus, with_baseline=baseline, progress=progress)
    if as_json:
        click.echo(json.dumps(report))
        return
    other = report.get("baseline", {})
    click.echo(f"{'metric':<28}{'newsbot':>10}" + (f"{'baseline':>10}" if other else ""))
    for key, value in report.items():
        if key == "baseline":
            continue
        line = f"{key:<28}{_fmt(value):>10}"
        if other:
            line += f"{_fmt(other.get(key)):>10}"
        click.echo(line)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)
