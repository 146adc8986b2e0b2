"""Loading articles: every file format, folders, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.errors import ArticleError
from retrieval.ingest.articles import (
    article_from_dict,
    article_id,
    canonical_url,
    load_path,
    make_article,
)

HTML_PAGE = """<!doctype html><html><head><title>Port strike ends | Harbour Times</title>
<meta property="og:site_name" content="Harbour Times">
<meta name="date" content="2024-03-02">
<script>var tracking = "do not index me";</script><style>p {color: red}</style></head>
<body><nav>Home | World | Sport</nav><article><h1>Port strike ends after nine days</h1>
<p>Dock workers at the port of Rotterdam voted on Saturday to end a nine-day strike after
the operator agreed to a 6% pay rise over two years.</p>
<p>The union said the agreement also limits night shifts, which had been the main sticking
point in the talks that began in January.</p>
<p>Shipping lines said it would take about a week to clear the backlog of containers.</p>
</article><footer>Copyright Harbour Times</footer></body></html>"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_plain_text_with_a_headline_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "Port strike ends\n\nDock workers voted to end the strike.")
    [article] = load_path(path)
    assert article.title == "Port strike ends"
    assert article.text == "Dock workers voted to end the strike."


def test_plain_text_without_a_headline_takes_its_first_sentence(tmp_path: Path) -> None:
    body = "Dock workers voted to end the strike. The union agreed. " * 5
    [article] = load_path(write(tmp_path, "a.txt", body))
    assert article.title == "Dock workers voted to end the strike."
    assert article.text == body.strip()


def test_markdown_heading_is_the_title(tmp_path: Path) -> None:
    [article] = load_path(write(tmp_path, "a.md", "# Port strike ends\n\nWorkers voted."))
    assert (article.title, article.text) == ("Port strike ends", "Workers voted.")


def test_html_keeps_the_article_and_drops_scripts_and_navigation(tmp_path: Path) -> None:
    [article] = load_path(write(tmp_path, "page.html", HTML_PAGE))
    assert "6% pay rise" in article.text
    assert "night shifts" in article.text
    assert "tracking" not in article.text and "color: red" not in article.text
    assert "Home | World" not in article.text
    assert "strike" in article.title.lower()


def test_html_takes_its_publication_date_from_the_page_metadata(tmp_path: Path) -> None:
    [article] = load_path(write(tmp_path, "page.html", HTML_PAGE))
    assert article.published_at == "2024-03-02"
    og = HTML_PAGE.replace(
        '<meta name="date" content="2024-03-02">',
        '<meta property="article:published_time" content="2023-05-29T08:15:00+00:00">',
    )
    [article] = load_path(write(tmp_path, "og.html", og))
    assert article.published_at == "2023-05-29"


def test_html_without_a_date_is_left_undated(tmp_path: Path) -> None:
    page = HTML_PAGE.replace('<meta name="date" content="2024-03-02">', "")
    [article] = load_path(write(tmp_path, "page.html", page))
    assert article.published_at is None


def test_json_article_with_every_field(tmp_path: Path) -> None:
    record = {
        "id": "x-1",
        "title": "T",
        "text": "Body text.",
        "url": "https://example.org/a",
        "source": "Example",
        "published_at": "2023-05-29T10:00:00Z",
    }
    [article] = load_path(write(tmp_path, "a.json", json.dumps(record)))
    assert article.id == "x-1"
    assert (article.source, article.url, article.published_at) == (
        "Example",
        "https://example.org/a",
        "2023-05-29",
    )


def test_jsonl_and_json_lists_load_every_record(tmp_path: Path) -> None:
    records = [{"title": f"T{i}", "text": f"Body number {i}."} for i in range(3)]
    jsonl = write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    assert [a.title for a in load_path(jsonl)] == ["T0", "T1", "T2"]
    listed = write(tmp_path, "b.json", json.dumps(records))
    assert len(list(load_path(listed))) == 3


def test_a_folder_loads_supported_files_recursively(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    write(folder, "a.txt", "One\n\nFirst body.")
    write(folder / "sub", "b.md", "# Two\n\nSecond body.")
    write(folder, "ignored.csv", "a,b")
    assert sorted(a.title for a in load_path(folder)) == ["One", "Two"]


def test_ids_are_stable_and_follow_the_canonical_url() -> None:
    a = make_article(text="Same body.", url="https://Example.org/story/#top")
    b = make_article(text="Edited body.", url="https://example.org/story")
    assert a.id == b.id == article_id("", "https://example.org/story")
    assert make_article(text="x  y").id == make_article(text="x y").id
    assert canonical_url("HTTPS://A.org/x/") == "https://a.org/x"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", "", "the file is empty"),
        ("blank.txt", "  \n\n ", "the file is empty"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("bad.json", "{not json", "invalid JSON"),
        ("notext.json", '{"title": "x"}', "'text'"),
        ("list.jsonl", '{"text": "ok"}\n[1, 2]\n', "list.jsonl:2"),
        ("date.json", '{"text": "x", "published_at": "yesterday"}', "is not a date"),
        (
            "dates.jsonl",
            '{"text": "a", "published_at": "2024/09/06"}\n{"text": "b", "published_at": "06/09/2024"}\n',
            "dates.jsonl:2",
        ),
        ("data.csv", "a,b", "unsupported file type"),
    ],
)
def test_bad_files_give_one_clear_error(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(ArticleError, match=message.replace("[", r"\[")) as caught:
        list(load_path(path))
    assert "\n" not in str(caught.value)


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="no such file or folder"):
        list(load_path(tmp_path / "nope.txt"))


def test_article_from_dict_rejects_non_objects() -> None:
    with pytest.raises(ArticleError, match="JSON object"):
        article_from_dict(["text"])


def test_tags_that_leaked_into_json_text_are_removed() -> None:
    text = 'The coffin went to the Capitol to <a href="https://x.org/y" target="_blank">lie in state</a> &amp; rest.'
    article = make_article(text=text)
    assert article.text == "The coffin went to the Capitol to lie in state & rest."
    assert make_article(text="Rates: 3 < 4 and 5 > 2.").text == "Rates: 3 < 4 and 5 > 2."


def test_a_pages_headline_is_its_title_not_a_sentence_of_its_body() -> None:
    from retrieval.ingest.articles import parse_html

    body = "The annual swim festival drew 3,000 swimmers on Sunday, organisers said."
    page = (
        "<html><head><title>Swim | Zurich News</title></head><body><article>"
        f"<h1>Lake Zurich swim draws a record crowd</h1><p>{body}</p></article></body></html>"
    )
    article = parse_html(page, where="page")
    assert article.title == "Lake Zurich swim draws a record crowd"
    assert article.text == body


def test_a_page_without_a_url_keeps_the_id_it_had_before_its_headline_left_the_body(
    tmp_path: Path,
) -> None:
    from retrieval.ingest.articles import article_id, strip_inline_html

    html = (
        "<html><head><title>Bridge approved</title></head><body><article><h1>Bridge approved</h1>"
        "<p>The council approved the new bridge on Monday after a long debate.</p>"
        "<p>Work starts in spring and should take two years, officials said.</p></article></body></html>"
    )
    import trafilatura

    extracted = trafilatura.bare_extraction(html, with_metadata=True, favor_precision=True)
    whole = strip_inline_html(extracted.text).strip()
    [article] = list(load_path(write(tmp_path, "bridge.html", html)))
    assert not article.text.startswith("Bridge approved")
    assert article.id == article_id(whole, None)
