"""Words that carry meaning: tokenising, stop words and a light stemmer for term overlap."""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "NUMBER_WORDS",
    "STOP_WORDS",
    "body_key",
    "content_terms",
    "same_text_key",
    "stem",
    "tokens",
]

STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you
    your yours yourself yourselves according said says say tell told whose many much s t
    don't didn't isn't wasn't aren't weren't doesn't""".split()
)
# Figures written as words, as the digits they stand for ("nine killed" says "9 killed").
NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "hundred": "100",
}
# Country and people names that should match each other ("China" / "Chinese").
_DEMONYMS = {
    "chinese": "china",
    "russian": "russia",
    "russians": "russia",
    "american": "america",
    "americans": "america",
    "british": "britain",
    "briton": "britain",
    "french": "france",
    "japanese": "japan",
    "ukrainian": "ukraine",
    "ukrainians": "ukraine",
    "israeli": "israel",
    "israelis": "israel",
    "iranian": "iran",
    "indian": "india",
    "german": "germany",
    "korean": "korea",
    "taiwanese": "taiwan",
    "european": "europe",
    "palestinian": "palestine",
    "palestinians": "palestine",
    "syrian": "syria",
    "turkish": "turkey",
    "canadian": "canada",
    "mexican": "mexico",
    "brazilian": "brazil",
    "australian": "australia",
    "italian": "italy",
    "spanish": "spain",
    "irish": "ireland",
    "scottish": "scotland",
    "welsh": "wales",
    "english": "england",
    "pakistani": "pakistan",
    "afghan": "afghanistan",
    "iraqi": "iraq",
    "saudi": "saudi",
    "egyptian": "egypt",
    "african": "africa",
    "dutch": "netherlands",
    "swiss": "switzerland",
    "swedish": "sweden",
    "polish": "poland",
    "greek": "greece",
}
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.'’-][A-Za-z0-9]+)*")


def tokens(text: str) -> list[str]:
    """Word tokens, original case; '58%' gives '58', 'Su-35' stays whole."""
    return _TOKEN.findall(text)


def stem(word: str) -> str:
    """A deliberately crude stem (lower case, first five letters of longer words), enough to
    match 'refused'/'refusal'/'refuse' and 'sanctions'/'sanctioned' without a dictionary."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = _DEMONYMS.get(word, word)
    if word.isdigit() or len(word) <= 4:
        return word
    return word[:5]


def content_terms(text: str) -> list[str]:
    """Stems of the words that are not stop words, in order, without repeats."""
    seen: dict[str, None] = {}
    for token in tokens(text):
        if token.lower() in STOP_WORDS:
            continue
        seen.setdefault(stem(token), None)
    return list(seen)


def same_text_key(text: str) -> str:
    """Case and spacing folded: one key for the same passage or sentence stored twice."""
    return " ".join(text.lower().split())


def body_key(text: str) -> str:
    """Identity of an article's body: the same story under another headline has the same key."""
    folded = " ".join(re.findall(r"\w+", text.lower()))
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:24]
