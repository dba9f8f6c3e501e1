"""Language rules from CLDR (Babel): plural categories, dates, times and weekday names.

Chromium's ``Intl`` has no Kazakh data (a date comes out as "2026 M03 5, Thu"), so what a
person reads is formatted here, or the console is sent the names and patterns to format
with (``date_names``). Babel's ``plural.to_gettext()`` says 4 forms for ru/uk; the
categories come from ``Locale.plural_form`` instead.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from functools import cache
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import lists as babel_lists

# Every language the widget, the console, the API errors and the demo site speak.
LANGUAGES = ("en", "ru", "uk", "kk")
DEFAULT = "en"


@cache
def _locale(lang: str) -> Locale:
    # CLDR data never changes while the process runs: one parsed Locale per language.
    return Locale.parse(lang if lang in LANGUAGES else DEFAULT)


def plural_categories(lang: str) -> frozenset[str]:
    """The plural forms a catalogue entry needs in ``lang`` ("other" always: fractions)."""
    return frozenset(_locale(lang).plural_form.tags) | {"other"}


def plural_category(lang: str, n: float) -> str:
    """one / few / many / other for ``n`` in ``lang`` (ru, uk: 1 one, 2 few, 5 many; kk: 1 one, else other)."""
    return str(_locale(lang).plural_form(n))


def format_list(lang: str, items: list[str]) -> str:
    """"name and email", "имя и email", "аты және email": a list as ``lang`` joins one."""
    return str(babel_lists.format_list(items, locale=_locale(lang)))


def format_date(lang: str, value: date | datetime, fmt: str = "medium", tz: tzinfo | None = None) -> str:
    """A date as people write it in ``lang`` ("5 мар. 2026 г.", "2026 ж. 5 нау."); fmt is
    short/medium/long/full or a CLDR pattern ("EEEE" is the weekday's name)."""
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(tz)
    return babel_dates.format_date(value, fmt, locale=_locale(lang))


def format_time(lang: str, value: time | datetime, fmt: str = "short", tz: tzinfo | None = None) -> str:
    return babel_dates.format_time(value, fmt, tzinfo=tz, locale=_locale(lang))


def format_datetime(lang: str, value: datetime, fmt: str | None = None, tz: tzinfo | None = None) -> str:
    """Date and time; by default as the console shows them ("2 мар. 2026 г., 11:05")."""
    pattern = fmt or date_names(lang)["patterns"]["full"]
    return babel_dates.format_datetime(value, pattern, tzinfo=tz, locale=_locale(lang))


def weekday_names(lang: str, width: str = "wide") -> list[str]:
    """Monday first: ["понеділок", …] in uk, ["дүйсенбі", …] in kk."""
    days = _locale(lang).days["stand-alone"][width]
    return [days[i] for i in range(7)]


def date_names(lang: str) -> dict[str, Any]:
    """What the console's date formatter needs for ``lang``: CLDR patterns and names.

    Patterns use CLDR letters (y, M, MMM, d, E, H, h, m, a, 'quoted text'); months and
    weekdays are in their format (in-sentence) forms, weekdays Monday first.
    """
    loc = _locale(lang)
    time_p = loc.time_formats["short"].pattern
    date_p = loc.date_formats["medium"].pattern
    return {
        "patterns": {
            "time": time_p,
            "day": loc.datetime_skeletons["MMMd"].pattern,
            "date": loc.datetime_skeletons["yMMMd"].pattern,
            "full": str(loc.datetime_formats["medium"]).replace("{1}", date_p).replace("{0}", time_p),
        },
        "months": [loc.months["format"]["abbreviated"][i] for i in range(1, 13)],
        "weekdays": [loc.days["format"]["abbreviated"][i] for i in range(7)],
        "am_pm": [loc.day_periods["format"]["abbreviated"]["am"], loc.day_periods["format"]["abbreviated"]["pm"]],
    }
