"""Docs that cannot drift: settings, events, catalogues, the snippet."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.config import markdown_table
from server.services.events import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent


def test_readme_configuration_table_matches_the_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "regenerate the table: python -c 'from server.config import markdown_table as t; print(t())'"


def test_every_event_type_is_documented() -> None:
    realtime = (ROOT / "docs" / "realtime.md").read_text()
    for event_type in CATALOGUE:
        assert f"`{event_type}`" in realtime, event_type


def _keys(path: Path) -> set[str]:
    return set(json.loads(path.read_text(encoding="utf-8")))


def test_console_catalogues_are_complete() -> None:
    en = _keys(ROOT / "server" / "i18n" / "en.json")
    ru = _keys(ROOT / "server" / "i18n" / "ru.json")
    assert en and en == ru, f"missing in ru: {sorted(en - ru)}; missing in en: {sorted(ru - en)}"


def test_widget_catalogues_are_complete() -> None:
    en = _keys(ROOT / "widget" / "i18n" / "en.json")
    ru = _keys(ROOT / "widget" / "i18n" / "ru.json")
    assert en and en == ru, f"missing in ru: {sorted(en - ru)}; missing in en: {sorted(ru - en)}"


def test_catalogue_values_are_translated() -> None:
    """A Russian string identical to the English one is a string someone forgot."""
    for folder in ("server", "widget"):
        base = ROOT / folder / "i18n"
        en = json.loads((base / "en.json").read_text(encoding="utf-8"))
        ru = json.loads((base / "ru.json").read_text(encoding="utf-8"))
        same = [
            k for k, v in en.items()
            if ru.get(k) == v and not k.startswith("lang.")  # language names are written in themselves
            and any(c.isalpha() for c in re.sub(r"\{\w+\}|Frontdesk", "", v))
        ]
        assert not same, f"{folder}: untranslated {same}"


def test_every_error_code_has_a_message() -> None:
    from server import errors

    en = json.loads((ROOT / "server" / "i18n" / "en.json").read_text(encoding="utf-8"))
    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.FrontdeskError)}
    codes |= {"site_not_found", "origin_not_allowed", "csrf_failed"}
    codes.discard("error")
    missing = [c for c in codes if f"error.{c}" not in en]
    assert not missing, missing
