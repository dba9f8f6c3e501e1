"""Message catalogues (server/i18n/<lang>.json): every console string and API error text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "ru")
DEFAULT = "en"
_DIR = Path(__file__).resolve().parent / "i18n"


class Catalogs:
    def __init__(self, directory: Path = _DIR) -> None:
        self.messages: dict[str, dict[str, str]] = {
            lang: json.loads((directory / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES
        }

    def translate(self, lang: str, key: str, **params: Any) -> str:
        text = self.messages.get(lang, {}).get(key) or self.messages[DEFAULT].get(key) or key
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


def pick_language(*candidates: str | None, accept_language: str | None = None) -> str:
    """The first supported of explicit choices, then of the Accept-Language header."""
    for candidate in candidates:
        if candidate and candidate[:2].lower() in LANGUAGES:
            return candidate[:2].lower()
    if accept_language:
        weighted = []
        for part in accept_language.split(",")[:20]:
            code, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            weighted.append((weight, code.strip()[:2].lower()))
        for _, code in sorted(weighted, key=lambda item: -item[0]):
            if code in LANGUAGES:
                return code
    return DEFAULT
