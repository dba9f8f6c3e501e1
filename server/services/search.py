"""Finding leads and conversations: what the operator typed becomes a store.search.Match.

* Something shaped like a phone number (digits with spaces, brackets, dashes, a leading
  plus; at least 4 digits) is read with phonenumbers in the default country of each of the
  operator's sites (``8 701 123 4567`` in a KZ site is +77011234567) and also matched as
  bare digits anywhere in a stored number (``123 45 67``).
* Text with an ``@`` is a piece of an email address.
* Anything else is words: each is case-folded, loses one common inflectional ending
  (Russian, Ukrainian, Kazakh, English: see ``stem``) and matches the start of a word in a
  lead's name, chat messages or private notes; a single word also matches within an email.

Filters are checked here (a bad one is an Invalid naming the field). Results carry a
snippet as (text, highlighted) pieces: the template escapes each piece, so a visitor's
HTML stays text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import phonenumbers

from ..errors import Invalid
from ..store import search as store
from ..store.db import Database
from ..store.writer import GroupWriter
from ..store.search import Filters, Hit, Match

STATUSES = ("new", "contacted", "qualified", "won", "lost")
QUERY_MAX = 200
MAX_WORDS = 8
PAGE_SIZE = 25
MAX_PAGE = 400  # deeper than 10,000 results: narrow the filters instead
SNIPPET_CHARS = 160
INDEX_BATCH = 2000  # new messages indexed in one writer turn (~10 ms; chat batches run between)

_WORD = re.compile(r"\w+")
_PHONE_SHAPED = re.compile(r"^\+?[\d\s().\-]+$")
# One ending is removed, the longest that leaves a stem of at least 3 letters; the stem
# then matches as a word prefix, so other endings of the same word are found too.
_ENDINGS = sorted(
    {
        # Russian and Ukrainian nouns, adjectives, verbs
        "иями", "ями", "ами", "ого", "его", "ому", "ему", "ыми", "ими", "ых", "их", "ой", "ей", "ий", "ый", "ая",
        "яя", "ое", "ее", "ую", "юю", "ом", "ем", "ам", "ям", "ах", "ях", "ов", "ев", "ть", "ет", "ют", "ут", "ит",
        "ат", "ят", "ла", "ли", "ло", "ешь", "ишь", "ою", "ею", "ів", "ти", "ться", "тся",
        "а", "я", "о", "е", "ы", "и", "у", "ю", "ь", "й", "і", "ї", "є",
        # Kazakh case and plural suffixes
        "ға", "ге", "қа", "ке", "да", "де", "та", "те", "дан", "ден", "тан", "тен", "нан", "нен", "ның", "нің",
        "дың", "дің", "тың", "тің", "ны", "ні", "ды", "ді", "ты", "ті", "лар", "лер", "дар", "дер", "тар", "тер",
        "мен", "бен", "пен", "ы",
        # English
        "s", "es", "ed", "ing", "ly",
    },
    key=len, reverse=True,
)
MIN_STEM = 3


def stem(word: str) -> str:
    """'доставкой' -> 'доставк', 'жеткізуге' -> 'жеткізу', 'prices' -> 'pric'."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def words_of(text: str) -> tuple[str, ...]:
    """The query's words, folded and stemmed; one-letter words are dropped (they match everything)."""
    found = [stem(w) for w in _WORD.findall(text.casefold()) if len(w) > 1]
    return tuple(dict.fromkeys(found))[:MAX_WORDS]


def phone_match(typed: str, regions: list[str]) -> tuple[tuple[str, ...], str | None]:
    """The E.164 numbers ``typed`` can be in the regions (and as given with +), and its digits."""
    digits = re.sub(r"\D", "", typed)
    numbers = []
    for region in [None, *regions]:
        try:
            number = phonenumbers.parse(typed, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            numbers.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return tuple(dict.fromkeys(numbers)), digits


def match_for(query: str, regions: list[str]) -> Match:
    query = query.strip()
    if not query:
        return Match()
    if _PHONE_SHAPED.match(query) and len(re.sub(r"\D", "", query)) >= 4:
        phones, digits = phone_match(query, regions)
        return Match(phones=phones, digits=digits)
    if "@" in query:
        return Match(email=query.casefold())
    words = words_of(query)
    if not words:
        raise Invalid(field="q", reason="too_short")
    single = len(query.split()) == 1 and len(query) >= 3
    return Match(words=words, email=query.casefold() if single else None)


@dataclass(frozen=True)
class Criteria:
    """A checked search form; ``args()`` gives it back as query-string pairs (links, export)."""

    q: str = ""
    site_id: int | None = None
    status: str | None = None
    owner_id: int | None = None  # 0: nobody's
    tag: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    page: int = 1

    def args(self, **override: Any) -> list[tuple[str, str]]:
        values = {
            "q": self.q, "site": self.site_id, "status": self.status, "owner": self.owner_id, "tag": self.tag,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None, **override,
        }
        return [(k, str(v)) for k, v in values.items() if v not in (None, "")]

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in (self.q, self.site_id, self.status, self.owner_id, self.tag,
                                                  self.date_from, self.date_to))


def _int(value: str | None, field: str, *, minimum: int = 0) -> int | None:
    if value in (None, ""):
        return None
    assert value is not None
    if not value.isdigit() or len(value) > 9 or int(value) < minimum:
        raise Invalid(field=field)
    return int(value)


def _date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid(field=field, reason="date") from None
    if not 1900 <= day.year <= 9000:  # and the day after "to" must exist
        raise Invalid(field=field, reason="date")
    return day


def check_criteria(params: Any) -> Criteria:
    """From the search form's GET parameters (a Mapping of str)."""
    q = (params.get("q") or "").strip()
    if len(q) > QUERY_MAX:
        raise Invalid(field="q", reason="too_long", max=QUERY_MAX)
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise Invalid(field="status")
    tag = (params.get("tag") or "").strip() or None
    if tag is not None and len(tag) > 50:
        raise Invalid(field="tag")
    date_from, date_to = _date(params.get("from"), "from"), _date(params.get("to"), "to")
    if date_from and date_to and date_to < date_from:
        raise Invalid(field="to", reason="before_from")
    page = _int(params.get("page"), "page", minimum=1) or 1
    if page > MAX_PAGE:
        raise Invalid(field="page")
    return Criteria(
        q=q, site_id=_int(params.get("site"), "site", minimum=1), status=status,
        owner_id=_int(params.get("owner"), "owner"), tag=tag, date_from=date_from, date_to=date_to, page=page,
    )


def _midnight(day: date, tz: timezone) -> datetime:
    return datetime.combine(day, time(), tz)


def filters_for(criteria: Criteria, site_ids: Any, tz: Any = timezone.utc) -> Filters:
    """Dates are whole days in ``tz`` (UTC unless given), the "to" day included."""
    return Filters(
        site_ids=frozenset(site_ids) if site_ids is not None else None, site_id=criteria.site_id,
        status=criteria.status, owner_id=criteria.owner_id, tag=criteria.tag,
        active_from=_midnight(criteria.date_from, tz) if criteria.date_from else None,
        active_before=_midnight(criteria.date_to + timedelta(days=1), tz) if criteria.date_to else None,
    )


async def index_pending(db: Database, writer: GroupWriter | None) -> int:
    """Bring the SQLite full-text index up to date before a search: the messages written
    since the last search are not in it yet (migration 0016). Batch by batch, each one a
    turn of the writer, so chat messages go on being stored in between. ``writer`` None:
    straight transactions (a tool or test with no writer running)."""
    if db.dialect != "sqlite" or not await db.read(store.unindexed):
        return 0  # nothing new: no turn of the writer
    total = 0
    while True:
        if writer is not None:
            done = await writer.run(lambda tx: store.index_pending(tx.conn, INDEX_BATCH))
        else:
            done = await db.transaction(lambda conn: store.index_pending(conn, INDEX_BATCH))
        total += done
        if done < INDEX_BATCH:
            return total


def regions_for(visible: list[Any], site_id: int | None) -> list[str]:
    """The countries a phone typed without its code is read in: the default country of the
    chosen site, else of every site the operator sees (``visible``: store.sites.Site)."""
    return sorted({s.default_country for s in visible if site_id in (None, s.id) and s.default_country})


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    more: bool  # another page follows
    match: Match


async def search(
    db: Database, criteria: Criteria, *, site_ids: Any, regions: list[str], tz: Any = timezone.utc,
    page_size: int = PAGE_SIZE, writer: GroupWriter | None = None,
) -> Results:
    match = match_for(criteria.q, regions)
    filters = filters_for(criteria, site_ids, tz)
    if match.words:
        await index_pending(db, writer)
    offset = (criteria.page - 1) * page_size
    hits = await db.read(lambda conn: store.search_leads(conn, match, filters, limit=page_size + 1, offset=offset))
    return Results(hits[:page_size], len(hits) > page_size, match)


async def export_rows(
    db: Database, criteria: Criteria, *, site_ids: Any, regions: list[str], tz: Any = timezone.utc, limit: int,
    writer: GroupWriter | None = None,
) -> tuple[list[Hit], bool]:
    """Up to ``limit`` matching leads (from the first page on) and whether more were left out."""
    match = match_for(criteria.q, regions)
    filters = filters_for(criteria, site_ids, tz)
    if match.words:
        await index_pending(db, writer)
    hits = await db.read(lambda conn: store.search_leads(conn, match, filters, limit=limit + 1))
    return hits[:limit], len(hits) > limit


async def known_tags(db: Database, site_ids: Any) -> list[str]:
    return await db.read(lambda conn: store.known_tags(conn, frozenset(site_ids) if site_ids is not None else None))


def snippet(body: str, match: Match, *, width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """A window of ``body`` around the first matching word, as (text, highlighted) pieces."""
    spans = []
    for found in _WORD.finditer(body):
        folded = found.group().casefold()
        if any(folded.startswith(w) for w in match.words):
            spans.append((found.start(), found.end()))
    start = max(0, spans[0][0] - width // 3) if spans else 0
    end = min(len(body), start + width)
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    at = start
    for s, e in spans:
        if s < start or e > end:
            continue
        if s > at:
            pieces.append((body[at:s], False))
        pieces.append((body[s:e], True))
        at = e
    if at < end:
        pieces.append((body[at:end], False))
    if end < len(body):
        pieces.append(("…", False))
    return pieces
