"""Message catalogues (server/i18n/<lang>.json): every console string and API error text.

An entry is a string with ``{name}`` placeholders, or a plural entry: an object with one
string per CLDR plural category of its language (en, kk: one/other; ru, uk:
one/few/many/other), chosen by the number passed as ``count`` — or as the parameter that
``"_count"`` names, e.g. ``{"_count": "max", "one": "…{max} символа", "few": …}``.
The widget's catalogues (widget/i18n/) use the same form.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .assets import asset_path
from .locales import DEFAULT, LANGUAGES, plural_category

__all__ = ["Catalogs", "DEFAULT", "LANGUAGES", "pick_language", "choose"]

COUNT_KEY = "_count"
_DIR = Path(__file__).resolve().parent / "i18n"


def choose(entry: Any, lang: str, params: dict[str, Any]) -> str:
    """The string of a catalogue entry for these parameters (a plural entry's right form)."""
    if not isinstance(entry, dict):
        return str(entry)
    n = params.get(entry.get(COUNT_KEY, "count"))
    form = plural_category(lang, n) if isinstance(n, (int, float)) and not isinstance(n, bool) else "other"
    return str(entry.get(form) or entry.get("other") or "")


def _load(directory: Path) -> dict[str, dict[str, Any]]:
    return {lang: json.loads((directory / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}


class Catalogs:
    def __init__(self, directory: Path = _DIR, widget_directory: Path | None = None) -> None:
        self.messages: dict[str, dict[str, Any]] = _load(directory)
        # The widget's own catalogues: the server says the launcher's name in them.
        self.widget: dict[str, dict[str, Any]] = _load(widget_directory or asset_path("widget", "i18n"))

    def launcher_labels(self, lang: str) -> list[str]:
        """The chat button's names (open, close) for embed.js, before the panel has loaded."""
        texts = self.widget.get(lang) or self.widget[DEFAULT]
        return [str(texts["launcher_open"]), str(texts["launcher_close"])]

    def translate(self, lang: str, key: str, **params: Any) -> str:
        own = self.messages.get(lang, {})
        if key in own:
            text = choose(own[key], lang, params)
        elif key in self.messages[DEFAULT]:
            text = choose(self.messages[DEFAULT][key], DEFAULT, params)
        else:
            text = key
        if params:
            try:
                return text.format(**params)
            except (KeyError, IndexError, ValueError):
                return text
        return text

    def first(self, lang: str, keys: list[str], **params: Any) -> str:
        """The first of ``keys`` that the catalogue has (most specific first)."""
        for key in keys:
            if key in self.messages.get(lang, {}) or key in self.messages[DEFAULT]:
                return self.translate(lang, key, **params)
        return self.translate(lang, keys[-1], **params)


def _code(tag: str) -> str:
    """Our language for a BCP 47 tag: "uk-UA" → uk, "kk_KZ" → kk, "ru" → ru."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


def pick_language(*candidates: str | None, accept_language: str | None = None) -> str:
    """The first supported of explicit choices, then of the Accept-Language header."""
    for candidate in candidates:
        if candidate and _code(candidate) in LANGUAGES:
            return _code(candidate)
    if accept_language:
        weighted = []
        for part in accept_language.split(",")[:20]:
            code, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            if weight > 0:  # q=0 means "not this language"
                weighted.append((weight, _code(code)))
        for _, code in sorted(weighted, key=lambda item: -item[0]):
            if code in LANGUAGES:
                return code
    return DEFAULT
