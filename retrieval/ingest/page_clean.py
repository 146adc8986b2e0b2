"""Site chrome out of page text: the lines of a web page that are not the article.

Pages as crawlers store them keep, between the paragraphs, what the site puts around an
article: consent and cookie notices, subscribe and newsletter boxes, share bars, "read more"
and related-story links, photo captions with their credits, bylines, datelines and
timestamps on lines of their own, "Advertisement". None of it should become a passage or a
quote. `clean_page_text` drops such lines whole and never edits inside a line it keeps, so
every sentence of the cleaned text is a verbatim substring of the page.

The rules were written from the pages of `rtqa_2024_full` (USA TODAY and its network, CNN,
The Week) and are deliberately narrow: a line is dropped only when it is short enough to be
chrome and looks like nothing else. Headings and list items stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["chrome_kind", "clean_page_text"]

# Lines longer than this are article paragraphs whatever words they hold.
_MAX_CHROME = 400

_EXACT_LINES = frozenset(
    (
        "advertisement",
        "ad",
        "advertising",
        "sponsored",
        "sponsored content",
        "ad feedback",
        "skip ad",
        "story continues below advertisement",
        "continue reading",
        "read more",
        "read more here",
        "read the full story",
        "show more",
        "load more",
        "see more",
        "click here",
        "back to top",
        "more",
        "related",
        "related stories",
        "related coverage",
        "related content",
        "recommended",
        "recommended stories",
        "top stories",
        "most read",
        "most popular",
        "trending",
        "trending now",
        "also read",
        "don't miss",
        "watch",
        "listen",
        "video",
        "image",
        "photo gallery",
        "enlarge this image",
        "toggle caption",
        "hide caption",
    )
)

_SHARE_WORDS = frozenset(
    """share shares tweet email e-mail print copy link facebook twitter x linkedin whatsapp
    reddit pinterest flipboard messenger telegram comments comment save bookmark""".split()
)

_CONSENT = re.compile(
    r"\b(cookies?|consent|privacy (policy|settings|notice|choices)|terms of (use|service))\b",
    re.I,
)
_CONSENT_CUE = re.compile(
    r"\b(we use|we and our partners|this (site|website)|our (site|website)|accept|"
    r"manage (your )?(settings|preferences|cookies)|by (continuing|clicking|using)|"
    r"your (choices|preferences|privacy)|opt[- ]out|do not sell|reject all|allow all)\b",
    re.I,
)
# A newsletter or subscription box: something to receive and a call to act, in one sentence.
_SUBSCRIBE_WHAT = re.compile(
    r"newsletter|\binbox\b|subscription|subscriber|\bsubscribe\b|journalism|elections team|"
    r"free daily email|evening briefing|\bfree issues\b",
    re.I,
)
# The call to act: an imperative opening a sentence or clause ("Sign up for ...", "Get our
# ...", ", sign up for ..."), or the box's stock phrases.
_SUBSCRIBE_ACT = re.compile(
    r"(^|[.?!:;,►]\s*)(sign[- ]?up|subscribe|get|join|try|help support|support|want|"
    r"become|visit|please consider)\b|consider a subscription|"
    r"delivered (right |straight |directly )?to your (email )?inbox|"
    r"thank you for supporting our journalism",
    re.I,
)


def _subscribe_piece(piece: str) -> bool:
    return bool(_SUBSCRIBE_WHAT.search(piece) and _SUBSCRIBE_ACT.search(piece))


# Promotions of the site's own pages and products.
_PROMO = re.compile(
    r"^(need a break\? play|hit play on the player below|this transcript was automatically|"
    r"podcasts?:|check out:|learn more:|all things [\w ]+:|[A-Z ]+STATS CENTRAL:|"
    r"join our facebook group|like knowing what)|"
    r"\bis a usa today content partner\b|\bour fact[- ]check work is supported\b|"
    r"\bdaily crossword\b|\bsign-up for your vote\b",
    re.I,
)
# "More: ...", "RELATED: ...", "Read more here", and USA TODAY's in-text links, which the
# crawler stores as "Label:Headline of another story" (no space after the colon).
_LINK_LABEL = re.compile(
    r"^(more|related|related stories|related coverage|see also|also read|read more|"
    r"read the full story( here)?|previous reporting|recommended|watch|listen|read|"
    r"click here)\s*:",
    re.I,
)
_GLUED_LINK = re.compile(r"^[^\s:][^:]{1,80}[a-z)?!'’”]:[A-Z0-9\"“‘'$][^:]*[^.]$")
_READ_MORE = re.compile(r"^(read|see|find|get) (more|the (full|latest)|all)\b.{0,40}$", re.I)
# A caption's closing credit: "Charles Miller/CNN", "Leon Neal/Getty Images",
# "Yonhap/EPA/Shutterstock", "Richard Vogel/AP", "Amy E. Price/Getty Images for SXSW".
_CREDIT_END = re.compile(
    r"(\bGetty Images( for [\w .&'’-]+)?|\bShutterstock|\bAP Photo[\w .'/-]*|"
    r"/(AP|Reuters|AFP|CNN|EPA[\w-]*|Bloomberg|Sipa USA|Imagn[\w ]*|USA TODAY( Network| Sports)?)|"
    r"\bUSA TODAY Network|\bImagn Images|\bProvided by [\w .&'’-]+|\bcourtesy( of)? [\w .&'’/-]+|"
    # any "Name/Agency" that opens the line or follows the caption's last sentence, every
    # word capitalised ("Swindon/Notts Co v Middlesbrough", a BBC fixture list, is no credit)
    r"(^|[.!?)”]\s+)[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,4}"
    r"(/[A-Z][\w.&'’-]*(?: [A-Z&][\w.&'’-]*){0,3})+)\)?$"
)
_CREDIT_LABEL = re.compile(r"^\(?(photo|image|picture|credit|photograph)s?( by)?\s*[:/]", re.I)
_NAME = r"[A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+){0,3}"
# "– David Jackson", "− Marina Pitofsky and Sudiksha Kochi", "By Jane Doe" (case matters).
_SIGNATURE = re.compile(rf"^(By |[—–−-]{{1,2}} ?){_NAME}(( and|,) {_NAME})*\.?$")
_BYLINE = re.compile(
    r"^(contributing|contributors?|reporting by|additional reporting|editing by|"
    r"written by|edited by)\b.{0,160}$|"
    r"^from usa today network and wire reports$|^special to [\w .]+$|^opinion contributor$|"
    r"^(the )?(associated press|reuters|usa today)$",
    re.I,
)
_FOR_PAPER = re.compile(r"^For the [A-Z][\w’'-]+( [A-Z][\w’'-]+)*$")
# A dateline on its own line: "CNN —", "Seoul, South Korea CNN —", "Jan 25, 2005 —".
_DATELINE = re.compile(r"^([A-Z][\w .,'’-]{0,50} )?CNN( [A-Z]\w+)?\s*[—–-]$")
_CONTACT = re.compile(
    r"\b(reach (him|her|them|me)|contact (him|her|them|me)|email (him|her|them)|"
    r"follow (him|her|them|us|me)|can be reached|story (tips?|ideas?)|got a tip)\b|"
    r"^(contact|reach|follow|email)\b",
    re.I,
)
_PIECES = re.compile(r"(?<=[.!?])\s+|\s+\.\.\.\s+")


def _mostly(test: Callable[[str], object], text: str) -> bool:
    """Whether the sentences `test` accepts make up most of the line: a search snippet
    that mentions a newsletter beside its news is not a newsletter box."""
    pieces = [p for p in _PIECES.split(text) if p]
    marked = sum(len(p) for p in pieces if test(p))
    return marked >= 0.5 * sum(len(p) for p in pieces)


_HANDLE = re.compile(r"[\w.-]+@[\w-]+\.\w+|(^|\s)@\w+")
_MONTH = (
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|"
    r"(mon|tues?|wed(nes)?|thu(rs)?|fri|sat(ur)?|sun)(day)?,?"
)
_STAMP_TOKEN = re.compile(
    rf"^({_MONTH}|\d{{1,4}}(st|nd|rd|th)?[,.:]?|\d{{1,2}}:\d\d([ap]m)?,?|[ap]\.?m\.?,?|"
    r"et|edt|est|pt|pdt|gmt|bst|utc|cet|updated|published|posted|last|modified|on|at|"
    r"[|•·,:—–-])$",
    re.I,
)


def _is_timestamp(line: str) -> bool:
    """A line of only a date and/or time ("Updated 3:45 p.m. ET Sept. 10, 2024",
    "Tuesday, June 23, 2020"): a full date, or a clock time marked as one."""
    words = line.replace("/", " ").split()
    if not words or not all(_STAMP_TOKEN.match(w) for w in words):
        return False
    has_month = any(re.fullmatch(_MONTH, w, re.I) for w in words)
    has_year = re.search(r"\b(19|20)\d\d\b", line) is not None
    has_day = re.search(r"\b\d{1,2}(st|nd|rd|th)?\b", line) is not None
    has_clock = re.search(r"\d:\d\d|\b\d{1,2} ?[ap]\.?m\b", line, re.I) is not None
    marked = re.search(
        r"\b([ap]\.?m\.?|et|edt|est|pt|pdt|gmt|bst|utc|cet|updated|published|posted)\b",
        line,
        re.I,
    )
    # "May 16" or "December 2013" alone is a heading of a timeline: it stays.
    return (has_month and has_day and has_year) or (has_clock and marked is not None)


def chrome_kind(line: str) -> str | None:
    """What kind of site chrome a line is ('consent', 'subscribe', 'share', 'link',
    'credit', 'byline', 'timestamp', 'contact', 'promo', 'ad'), or None for article text."""
    text = " ".join(line.split())
    if not text:
        return None
    # Consent and newsletter boxes run long (The Week's is 600 characters): judged first,
    # by whether such sentences make up most of the line.
    if len(text) <= 2 * _MAX_CHROME:
        if _CONSENT_CUE.search(text) and _mostly(_CONSENT.search, text):
            return "consent"
        if _mostly(_subscribe_piece, text):
            return "subscribe"
    if len(text) > _MAX_CHROME:
        return None
    lower = text.lower()
    if lower.rstrip(".:!") in _EXACT_LINES:
        return "ad" if "advert" in lower or "sponsor" in lower or lower == "ad" else "link"
    words = re.findall(r"[\w-]+", lower)
    if words and all(w in _SHARE_WORDS for w in words):
        return "share"
    if _PROMO.search(text):
        return "promo"
    if _LINK_LABEL.match(text) or _GLUED_LINK.match(text) or _READ_MORE.match(text):
        return "link"
    if _CREDIT_LABEL.match(text) or (_CREDIT_END.search(text) and not text.endswith(".")):
        return "credit"
    if (
        _SIGNATURE.match(text)
        or _BYLINE.match(text)
        or _FOR_PAPER.match(text)
        or _DATELINE.match(text)
    ):
        return "byline"
    if _HANDLE.search(text) and _CONTACT.search(text) and len(text) < 300:
        return "contact"
    if _is_timestamp(text):
        return "timestamp"
    return None


def clean_page_text(text: str) -> str:
    """The page without its chrome lines; kept lines are unchanged, and runs of blank lines
    left behind shrink to one blank line. A page of nothing but chrome comes back empty."""
    kept: list[str] = []
    blank = False
    for line in text.splitlines():
        if not line.strip():
            blank = bool(kept)
            continue
        if chrome_kind(line) is not None:
            continue
        if blank:
            kept.append("")
            blank = False
        kept.append(line)
    return "\n".join(kept)
