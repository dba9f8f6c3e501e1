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


# Keys, placeholders and plural forms of every catalogue: tests/test_catalogs.py.


def test_catalogue_values_are_translated() -> None:
    """A string identical to the English one is a string someone forgot."""
    for folder in ("server/i18n", "widget/i18n", "demo_site/i18n"):
        base = ROOT / folder
        en = json.loads((base / "en.json").read_text(encoding="utf-8"))
        for lang in ("ru", "uk", "kk"):
            other = json.loads((base / f"{lang}.json").read_text(encoding="utf-8"))
            same = [
                k for k, v in en.items()
                if other.get(k) == v and not k.startswith("lang.")  # language names are written in themselves
                and any(c.isalpha() for c in re.sub(r"\{\w+\}|Frontdesk|_count", "", json.dumps(v, ensure_ascii=False)))
            ]
            assert not same, f"{folder}/{lang}: untranslated {same}"


def test_every_error_code_has_a_message() -> None:
    from server import errors

    en = json.loads((ROOT / "server" / "i18n" / "en.json").read_text(encoding="utf-8"))
    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.FrontdeskError)}
    codes |= {"site_not_found", "origin_not_allowed", "csrf_failed"}
    codes.discard("error")
    missing = [c for c in codes if f"error.{c}" not in en]
    assert not missing, missing
