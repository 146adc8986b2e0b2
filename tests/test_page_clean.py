"""Site chrome out of page text, on real lines of the full-length dev set.

Every snippet here is quoted from ../shared/data/rtqa_2024_full/corpus.jsonl (RealTime QA's
crawl of USA TODAY, CNN and The Week pages, 2024), shortened only where marked with "...".
"""

from __future__ import annotations

import pytest

from retrieval.ingest.page_clean import chrome_kind, clean_page_text
from retrieval.text.sentences import split_sentences

# cnn.com/2022/12/03/asia/south-korea-worlds-lowest-fertility-rate-intl-hnk-dst
CNN_PAGE = """Seoul, South Korea CNN —

The season of baby fairs is here once again in South Korea.

But this is a shrinking business, and the customer base is dwindling.

And it spells trouble for a country with an aging population that faces a looming \
shortage of workers to support its pension system.

Nurses at a nearly empty infant unit of a hospital in Seoul, South Korea, in February \
2017. Yonhap/EPA/Shutterstock

The problem is commonly blamed on economic factors that have put off the young from \
having families."""

# usatoday.com/story/news/nation/2024/09/10/spacex-launch-polaris-dawn-mission
USA_TODAY_END = """When the day comes that the third and final Polaris Program mission \
launches, it's intended to be the first human spaceflight on the SpaceX Starship rocket.

Contributing: Brooke Edwards and Rick Neale, Florida Today

Eric Lagatta covers breaking and trending news for USA TODAY. Reach him at \
elagatta@gannett.com"""

# usatoday.com/story/life/food/2024/10/01/chaddsford-winery-sold-...
RELATED_LINKS = """Plans are underway for substantial short and long-term improvements to \
the Chadds Ford property, according to Corey Krejcik, general manager of Chaddsford Winery.

Looking for new owners:Owners say 42-year-old Chaddsford Winery is for sale; 'all options \
are on the table'

Winemakers honored:What Delaware couple and their California wines are being honored at \
Versailles?

Chadds Ford artist Jamie Wyeth created the label art for White Horse winery."""


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        # consent and subscription boxes
        (
            "We use cookies to enhance your experience, improve site performance, analyze its "
            "traffic, to allow you to purchase anything related to sporting events you are\xa0.",
            "consent",  # rgb_fact's corpus: a search snippet that is a cookie notice
        ),
        ("Sign-up for Your Vote: Text with the USA TODAY elections team.", "subscribe"),
        (
            "What's everyone talking about? Sign up for our trending newsletter to get the "
            "latest news of the day",
            "subscribe",
        ),
        (
            "Get CNN Health's weekly newsletter Sign up here to get The Results Are In with "
            "Dr. Sanjay Gupta every Tuesday from the CNN Health team.",
            "subscribe",
        ),
        (
            "Subscribe to The Week Escape your echo chamber. Get the facts behind the news, "
            "plus analysis from multiple perspectives. SUBSCRIBE & SAVE Sign up for The Week's "
            "Free Newsletters From our morning news briefing to a weekly Good News Newsletter, "
            "get the best of The Week delivered directly to your inbox. From our morning news "
            "briefing to a weekly Good News Newsletter, get the best of The Week delivered "
            "directly to your inbox. Sign up",
            "subscribe",
        ),
        ("To empower the journalism behind IndyStar, please consider a subscription.", "subscribe"),
        # the site's own promotions
        ("Need a break? Play the USA TODAY Daily Crossword Puzzle.", "promo"),
        ("NFL STATS CENTRAL: The latest NFL scores, schedules, odds, stats and more.", "promo"),
        # "read more" and related-story links
        ("Read more here.", "link"),
        (
            "More:Kamala Harris needs Latinos to win these swing states. They say she has more to do",
            "link",
        ),
        (
            "RELATED: Forest Service proposes Buck Creek Timber sale in Nantahala National Forest",
            "link",
        ),
        (
            "Storm tracker:See projected path of Tropical Storm Helene set to become a hurricane",
            "link",
        ),
        # photo captions ending in their credit
        (
            "Mall owners Simon and Brookfield bought JCPenney out of bankruptcy. Phelan M. Ebenhack/AP",
            "credit",
        ),
        ("Clay Jones/CNN", "credit"),
        ("Truss is currently UK foreign secretary. Justin Tallis/AFP/Getty Images", "credit"),
        (
            "Cyclone Mocha made landfall in May (Image credit: Sai Aung Main / AFP via Getty "
            "Images)",
            "credit",
        ),
        # bylines, datelines and author notes on their own lines
        ("− Marina Pitofsky and Sudiksha Kochi", "byline"),
        ("– David Jackson", "byline"),
        ("Contributing: The Associated Press", "byline"),
        ("From USA TODAY Network and wire reports", "byline"),
        ("Washington CNN —", "byline"),
        (
            "Contact Brandon Holveck at bholveck@delawareonline.com. Follow him on Twitter "
            "@holveck_brandon.",
            "contact",
        ),
        # timestamps standing alone
        ("Thursday, July 9, 2020", "timestamp"),
        ("THURSDAY, JAN. 21, 2016", "timestamp"),
        ("Updated 3:45 p.m. ET Sept. 10, 2024", "timestamp"),
        ("Advertisement", "ad"),
    ],
)
def test_chrome_lines_of_real_pages_are_recognised(line: str, kind: str) -> None:
    assert chrome_kind(line) == kind


@pytest.mark.parametrize(
    "line",
    [
        # headings, list items and article sentences that only look like chrome
        "Alabama",  # a section of "News from around our 50 states"
        "Montgomery: The state told a federal judge last week that it has finished "
        "construction of a “system” to use nitrogen gas to carry out death sentences.",
        "Developments:",
        "May 16",  # a timeline's date heading: it dates what follows
        "December 2013",
        "43:53",
        "7:45 a.m.: Appreciating the right to vote brings people out early",
        "Welker: OK, President Trump, thank you. Quick response, Vice President Biden",
        "Fans can sign up now for the password to the artist pre-sale, which begins at 10 "
        "a.m. Tuesday, Sept. 10, at https://RoleModel.lnk.to/NPLTour.",
        "Instagram began placing all teens under 18 who sign up for a new account on Teen "
        "Accounts starting Tuesday, but existing accounts belonging to teenagers will not be "
        "switched over immediately.",
        "“With Discord, you subscribe to channels and engage in private chat, which is a veil "
        "of privacy and secrecy in the way it is constructed,” said Danielle Citron.",
        '"Just like we’re all coming to terms with the fact that our personal information is '
        'out there, we need to accept that we will fall victim to identity theft at some point."',
        "Sell-by dates range from July 25, 2024, to August 30, 2024",
        "6/23/1978: Associate, St. Brigid and Campus Minister, Allegheny College w/Father "
        "William Karg",
        # a caption merged with the paragraph after it holds article text: it stays
        "Snow blankets buildings in Buffalo, New York, on Wednesday, December 28. Joed "
        "Viera/AFP/Getty Images National Guard troops check on Buffalo residents.",
        # an RGB search snippet: a newsletter mention beside the news it carries
        "Apr 11, 2022 ... Get Apple News Directly in Your Inbox ... The iPhone 11 was unveiled "
        'on September 10, 2019 at Apple\'s "By innovation only" event. It debuted\xa0..',
        # RGB snippets with a colon inside a name
        "The Avengers and Avenger:Age Of Ultron we're directed by Joss Whedon.",
        "Oct 23, 2019 ... Tesla's (NASDAQ:TSLA) third-quarter earnings for 2019 saw the "
        "electric car maker post $6.3 billion in revenue\xa0..",
    ],
)
def test_article_lines_stay(line: str) -> None:
    assert chrome_kind(line) is None


def test_a_cnn_page_loses_its_dateline_and_photo_credit_and_nothing_else() -> None:
    cleaned = clean_page_text(CNN_PAGE)
    assert cleaned == (
        "The season of baby fairs is here once again in South Korea.\n\n"
        "But this is a shrinking business, and the customer base is dwindling.\n\n"
        "And it spells trouble for a country with an aging population that faces a looming "
        "shortage of workers to support its pension system.\n\n"
        "The problem is commonly blamed on economic factors that have put off the young from "
        "having families."
    )


def test_bylines_and_author_notes_go_from_the_end_of_a_story() -> None:
    cleaned = clean_page_text(USA_TODAY_END)
    assert cleaned.endswith("the first human spaceflight on the SpaceX Starship rocket.")
    assert "Contributing" not in cleaned and "elagatta" not in cleaned


def test_related_story_links_go_and_the_story_stays() -> None:
    cleaned = clean_page_text(RELATED_LINKS)
    assert "Looking for new owners" not in cleaned and "Winemakers honored" not in cleaned
    assert cleaned.endswith("Jamie Wyeth created the label art for White Horse winery.")
    assert "\n\n\n" not in cleaned


@pytest.mark.parametrize("page", [CNN_PAGE, USA_TODAY_END, RELATED_LINKS])
def test_every_kept_sentence_is_verbatim_in_the_page(page: str) -> None:
    cleaned = clean_page_text(page)
    for start, end in split_sentences(cleaned):
        assert cleaned[start:end] in page
    for line in cleaned.splitlines():
        assert line in page.splitlines()


def test_a_clean_text_is_left_as_it_is() -> None:
    text = "Dock workers in Rotterdam won a 6% pay rise.\n\nThe strike ended on Friday."
    assert clean_page_text(text) == text
    assert clean_page_text("Advertisement\n\nRead more here.") == ""


def test_articles_are_stored_without_their_chrome_under_the_id_they_always_had() -> None:
    from retrieval.ingest.articles import article_id, make_article

    page = (
        "Lebanon has been attacked by something the world has never seen before.\n"
        "Sign-up for Your Vote: Text with the USA TODAY elections team.\n"
        "Hundreds of pagers exploded across the country on Tuesday.\n"
        "Eric Lagatta covers breaking and trending news for USA TODAY. Reach him at elagatta@gannett.com"
    )
    article = make_article(text=page, title="Pagers explode")
    assert "Sign-up" not in article.text and "Reach him" not in article.text
    assert "Hundreds of pagers exploded across the country on Tuesday." in article.text
    assert article.id == article_id(page, None)  # stores made before cleaning keep their ids
