"""Catalogues cannot drift: every language has every key English has, no key English lacks,
the same placeholders, and the plural forms its language needs. Plural rules on the server."""

from __future__ import annotations

import json
import string
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import pytest

from server.catalogs import Catalogs, pick_language
from server.locales import LANGUAGES, date_names, format_date, format_datetime, format_time, plural_categories, plural_category, weekday_names

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIRS = ["server/i18n", "widget/i18n", "demo_site/i18n"]


def placeholders(text: str) -> set[str]:
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            names.add(field.split(".")[0].split("[")[0])
    return names


def catalogue_problems(en: dict[str, Any], other: dict[str, Any], lang: str) -> list[str]:
    """What is wrong with ``other`` (in ``lang``) measured against English."""
    problems = [f"missing {k!r}" for k in en.keys() - other.keys()]
    problems += [f"not in English {k!r}" for k in other.keys() - en.keys()]
    for key in sorted(en.keys() & other.keys()):
        e, o = en[key], other[key]
        if isinstance(e, dict) != isinstance(o, dict):
            problems.append(f"{key!r}: plural in one language, a plain string in the other")
            continue
        if not isinstance(e, dict):
            if placeholders(o) != placeholders(e):
                problems.append(f"{key!r}: placeholders {sorted(placeholders(o))}, English has {sorted(placeholders(e))}")
            continue
        want = placeholders(e.get("other", ""))
        counter = e.get("_count", "count")
        if o.get("_count", "count") != counter:
            problems.append(f"{key!r}: counts {o.get('_count', 'count')!r}, English counts {counter!r}")
        if counter not in want:
            problems.append(f"{key!r}: the count {{{counter}}} is not in the English text")
        forms = {k for k in o if not k.startswith("_")}
        if forms != plural_categories(lang):
            problems.append(f"{key!r}: plural forms {sorted(forms)}, {lang} needs {sorted(plural_categories(lang))}")
        for form in sorted(forms):
            if not isinstance(o[form], str) or placeholders(o[form]) != want:
                problems.append(f"{key!r}[{form}]: placeholders differ from English ({sorted(want)})")
    return problems


def _load(folder: str, lang: str) -> dict[str, Any]:
    return json.loads((ROOT / folder / f"{lang}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("folder", CATALOGUE_DIRS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_matches_english(folder: str, lang: str) -> None:
    en = _load(folder, "en")
    assert en
    assert catalogue_problems(en, _load(folder, lang), lang) == []


def test_the_check_finds_every_kind_of_drift() -> None:
    en = {
        "a": "Hello {name}", "b": "Bye",
        "n": {"_count": "max", "one": "at most {max} character", "other": "at most {max} characters"},
    }
    good = {
        "a": "Привіт, {name}", "b": "Бувай",
        "n": {"_count": "max", "one": "{max} символ", "few": "{max} символи", "many": "{max} символів", "other": "{max} символу"},
    }
    assert catalogue_problems(en, good, "uk") == []
    assert catalogue_problems(en, en, "en") == []
    drifted = [
        {k: v for k, v in good.items() if k != "b"},                       # a key English has is missing
        {**good, "c": "Зайве"},                                            # a key English no longer has
        {**good, "a": "Привіт"},                                           # a placeholder lost
        {**good, "a": "Привіт, {name} {who}"},                             # a placeholder English lacks
        {**good, "n": {k: v for k, v in good["n"].items() if k != "few"}},  # a plural form missing
        {**good, "n": {**good["n"], "many": "{count} символів"}},          # a sub-form's placeholder differs
        {**good, "n": "{max} символів"},                                   # plural in English only
    ]
    for catalogue in drifted:
        assert catalogue_problems(en, catalogue, "uk"), catalogue
    assert catalogue_problems(en, {**good, "n": {"_count": "max", "one": "{max} таңба", "other": "{max} таңба"}}, "kk") == []
    assert catalogue_problems(en, good, "kk"), "kk has no few/many"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ru", ["one", "few", "many", "many", "one", "few", "many"]),
        ("uk", ["one", "few", "many", "many", "one", "few", "many"]),
        ("kk", ["one", "other", "other", "other", "other", "other", "other"]),
        ("en", ["one", "other", "other", "other", "other", "other", "other"]),
    ],
)
def test_plural_categories(lang: str, expected: list[str]) -> None:
    assert [plural_category(lang, n) for n in (1, 2, 5, 11, 21, 22, 25)] == expected


def test_plural_forms_each_language_needs() -> None:
    # Not babel.plural.to_gettext(), which says 4 forms for ru and uk.
    assert plural_categories("ru") == plural_categories("uk") == {"one", "few", "many", "other"}
    assert plural_categories("kk") == plural_categories("en") == {"one", "other"}


@pytest.mark.parametrize(
    ("lang", "counts"),
    [
        ("ru", {1: "1 непрочитанное сообщение", 2: "2 непрочитанных сообщения", 5: "5 непрочитанных сообщений",
                11: "11 непрочитанных сообщений", 21: "21 непрочитанное сообщение", 22: "22 непрочитанных сообщения",
                25: "25 непрочитанных сообщений"}),
        ("uk", {1: "1 непрочитане повідомлення", 2: "2 непрочитані повідомлення", 5: "5 непрочитаних повідомлень",
                11: "11 непрочитаних повідомлень", 21: "21 непрочитане повідомлення", 22: "22 непрочитані повідомлення",
                25: "25 непрочитаних повідомлень"}),
        ("kk", {n: f"{n} оқылмаған хабарлама" for n in (1, 2, 5, 11, 21, 22, 25)}),
        ("en", {1: "1 unread message", 2: "2 unread messages", 21: "21 unread messages"}),
    ],
)
def test_counts_are_said_in_the_right_form(lang: str, counts: dict[int, str]) -> None:
    catalogs = Catalogs()
    assert {n: catalogs.translate(lang, "inbox.unread", count=n) for n in counts} == counts


def test_a_plural_entry_can_count_another_parameter() -> None:
    catalogs = Catalogs()
    assert catalogs.translate("ru", "error.too_large.body", max=21) == "Сообщение слишком длинное (не более 21 символа)."
    assert catalogs.translate("ru", "error.too_large.body", max=5000) == "Сообщение слишком длинное (не более 5000 символов)."
    assert catalogs.translate("uk", "error.invalid.password", min=2) == "Пароль закороткий (мінімум 2 символи)."
    assert catalogs.translate("kk", "error.too_large.body", max=1) == "Хабарлама тым ұзын (ең көбі 1 таңба)."
    assert catalogs.translate("en", "error.too_large.name", max=1) == "The name is too long (at most 1 character)."


@pytest.mark.parametrize(
    ("candidates", "accept", "expected"),
    [
        (("uk-UA",), None, "uk"), (("kk-KZ",), None, "kk"), (("kk",), None, "kk"), (("kk_KZ",), None, "kk"),
        ((None, "de"), "uk-UA,uk;q=0.9,ru;q=0.8", "uk"), ((), "de-DE,kk;q=0.8,ru;q=0.5", "kk"),
        ((), "uk;q=0,ru;q=0.5", "ru"), ((), "fr", "en"),
    ],
)
def test_language_choice_knows_ukrainian_and_kazakh(candidates: tuple[Any, ...], accept: str | None, expected: str) -> None:
    assert pick_language(*candidates, accept_language=accept) == expected


def test_dates_and_weekdays_per_language() -> None:
    day = date(2026, 3, 2)  # a Monday
    assert weekday_names("uk")[0] == "понеділок" and weekday_names("kk")[0] == "дүйсенбі"
    assert format_date("kk", day, "EEEE") == "дүйсенбі"
    assert format_date("kk", day) == "2026\u202fж. 02 нау."  # CLDR's narrow no-break space
    assert format_date("uk", day) == "2 бер. 2026\u202fр."
    assert format_time("kk", time(14, 5)) == "14:05"
    moment = datetime(2026, 3, 2, 11, 5, tzinfo=timezone.utc)
    assert format_datetime("ru", moment, tz=timezone.utc) == "2 мар. 2026\u202fг., 11:05"
    names = date_names("kk")
    assert names["months"][2] == "нау." and names["patterns"]["time"] == "HH:mm"
    assert "y" in names["patterns"]["date"] and "MMM" in names["patterns"]["day"]
