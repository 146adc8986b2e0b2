"""Article identity: which articles are the same article.

An article's id is a hash of its canonical URL (`canonical_url`: no fragment, no tracking
parameters), else of its text, unless its record names one. Articles stored before tracking
parameters were dropped keep their ids; each stored record also carries its `identity`, the id
the article gets today (`stored_identity`), so a variant of its URL finds it.
"""

from __future__ import annotations

import hashlib

from retrieval.text.terms import body_key

__all__ = [
    "TRACKING_PARAMETERS",
    "TRACKING_PREFIXES",
    "article_id",
    "canonical_url",
    "chunk_id",
    "is_tracking_parameter",
    "legacy_article_id",
    "stored_identity",
    "text_version",
]

# Query parameters that say how a reader reached a page, not which page it is: campaign tags,
# click ids of ad networks and social sites, newsletter ids, referrers and syndication
# partners. A link that differs from another only in these is the same article. Names are
# compared in lower case; README.md ("Articles") lists them.
TRACKING_PARAMETERS = frozenset(
    """fbclid gclid gclsrc dclid gbraid wbraid msclkid yclid twclid ttclid li_fat_id igshid
    igsh mc_cid mc_eid _ga _gl _hsenc _hsmi mkt_tok oly_anon_id oly_enc_id vero_id rb_clickid
    s_cid cmpid cmp ocid ref ref_src ref_url referrer partner ito smid sr_share""".split()
)
# ... and whole families of them: Google Analytics (utm_), AT Internet (at_), comScore (ns_),
# Matomo/Piwik (mtm_, pk_), HubSpot ads (hsa_), internal-campaign tags (itm_).
TRACKING_PREFIXES = ("utm_", "at_", "ns_", "mtm_", "pk_", "hsa_", "itm_")


def is_tracking_parameter(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The form of a URL used for identity: lower-case scheme and host, no trailing slash, no
    fragment, and no tracking parameters (`TRACKING_PARAMETERS`), so `…/story?utm_source=rss`
    and `…/story#comments` are `…/story`. The other parameters are kept as written, in order."""
    from urllib.parse import unquote_plus, urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or ""
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and not is_tracking_parameter(unquote_plus(piece.split("=", 1)[0]))
    ]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "&".join(kept), ""))


def legacy_canonical_url(url: str) -> str:
    """The canonical form before tracking parameters were dropped (every parameter kept): the
    basis of the ids of articles stored until then, which keep those ids."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def _hash_id(basis: str) -> str:
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def article_id(text: str, url: str | None) -> str:
    """Stable id: a hash of the canonical URL if there is one, else of the whitespace-folded text."""
    return _hash_id(canonical_url(url) if url else " ".join(text.split()))


def legacy_article_id(url: str) -> str:
    """The id an article with this URL was given before tracking parameters were dropped."""
    return _hash_id(legacy_canonical_url(url))


def stored_identity(stored_id: str, url: str | None) -> str:
    """The identity of an article stored under `stored_id`: the id `article_id` gives its URL
    today when the stored id was derived from that URL (then or now); else the stored id itself
    (an id given in the article's record, or a hash of its text)."""
    if url and stored_id in (legacy_article_id(url), article_id("", url)):
        return article_id("", url)
    return stored_id


def text_version(text: str) -> str:
    """A short name for one version of an article's text (its body key): the chunks of an
    updated article are named after it, so they never collide with the version they replace."""
    return body_key(text)[:10]


def chunk_id(article_id: str, index: int, version: str | None = None) -> str:
    """`ARTICLE_ID:N` for an article's first version, `ARTICLE_ID~VERSION:N` after an update."""
    return f"{article_id}:{index}" if version is None else f"{article_id}~{version}:{index}"
