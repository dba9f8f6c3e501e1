"""Sites: the businesses' websites that embed the widget."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit
from typing import Any, Mapping

import phonenumbers

from ..errors import FrontdeskError, Invalid
from ..store import sites as store
from ..store.db import Database
from ..store.sites import Site
from ..store.writer import GroupWriter, Tx
from ..locales import LANGUAGES
from . import events, fields

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# A site text may be written ahead of the widget speaking its language: any ISO 639 code.
_TEXT_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
GREETING_MAX_CHARS = 500
# The launcher's corner; "auto": the page's writing direction's (left on a dir="rtl" page).
POSITIONS = ("auto", "right", "left")
# The launcher's offsets from its corner, CSS px: enough to clear a page's own corner controls.
OFFSET_MAX = 1000
CONSENT_MAX_CHARS = 1000
# What a site's contact form may require: each field, or at least one way to answer.
REQUIRABLE = ("name", "email", "phone", "email_or_phone")


def required_fields(value: Any) -> tuple[str, ...]:
    """The contact form's required fields: a comma list or a sequence of REQUIRABLE names."""
    parts = value.split(",") if isinstance(value, str) else list(value or ())
    clean = tuple(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))
    if not clean or any(p not in REQUIRABLE for p in clean):
        raise Invalid(field="contact_required", known=", ".join(REQUIRABLE))
    return clean


def web_url(value: Any, field: str) -> str | None:
    """An http(s) address a visitor may open (the privacy policy), or None."""
    text = fields.text(value, field, max_chars=2048, required=False)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(field=field)
    return text
PRECHAT_MODES = ("off", "optional", "required")
PRECHAT_FIELDS = ("name", "email", "phone")


async def create_site(
    writer: GroupWriter,
    name: Any,
    origins: list[Any],
    *,
    color: str = "#2563eb",
    position: str = "auto",
    language: str | None = None,
    greeting: str | Mapping[str, Any] | None = None,
    offset_x: Any = 16,
    offset_y: Any = 16,
    live_visitors: bool = False,
    consent_required: bool = False,
    contact: bool = False,
    contact_required: Any = ("email_or_phone",),
    consent_text: str | Mapping[str, Any] | None = None,
    privacy_url: Any = None,
    notify_email: Any = None,
    allow_duplicate_name: bool = False,
    default_country: Any = None,
    prechat: Any = "off",
    prechat_fields: Any = ("name", "email"),
    anonymize_ips: bool = False,
) -> Site:
    """A new site. A name another site already has is refused (naming that site's key)
    unless ``allow_duplicate_name``: two same-named sites look alike in the console."""
    clean_name = fields.text(name, "name", max_chars=200)
    clean_origins = clean_origin_list(origins)
    if not _COLOR.match(color or ""):
        raise Invalid(field="color")
    if position not in POSITIONS:
        raise Invalid(field="position")
    if language is not None and language not in LANGUAGES:
        raise Invalid(field="language")
    clean_greeting = texts_by_language(greeting, "greeting", max_chars=GREETING_MAX_CHARS)
    clean_x, clean_y = offset(offset_x, "offset_x"), offset(offset_y, "offset_y")
    clean_required = required_fields(contact_required)
    clean_consent = texts_by_language(consent_text, "consent_text", max_chars=CONSENT_MAX_CHARS)
    clean_privacy = web_url(privacy_url, "privacy_url")
    clean_notify = fields.email(notify_email, "notify_email")
    clean_country = country(default_country)
    clean_prechat, clean_prechat_fields = prechat_form(prechat, prechat_fields)
    key = "fd_" + secrets.token_urlsafe(12)

    def job(tx: Tx) -> Site:
        existing = None if allow_duplicate_name else store.get_site_by_name(tx.conn, clean_name)
        if existing is not None:
            raise Invalid("exists", field="name", name=clean_name, site_key=existing.key)
        return store.insert_site(
            tx.conn, key=key, name=clean_name, allowed_origins=clean_origins, color=color.lower(),
            position=position, language=language, greeting=clean_greeting,
            offset_x=clean_x, offset_y=clean_y, live_visitors=bool(live_visitors),
            consent_required=bool(consent_required),
            contact_enabled=bool(contact), contact_required=clean_required, consent_text=clean_consent,
            privacy_url=clean_privacy, notify_email=clean_notify,
            default_country=clean_country, prechat=clean_prechat, prechat_fields=clean_prechat_fields,
            anonymize_ips=bool(anonymize_ips), identity_secret=secrets.token_hex(32),
        )

    return await writer.run(job)


def country(value: Any, field: str = "default_country") -> str | None:
    """An ISO 3166 two-letter region phonenumbers knows ("kz" -> "KZ"), or None."""
    if value is None or value == "":
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or code not in phonenumbers.SUPPORTED_REGIONS:
        raise Invalid(field=field, value=value)
    return code


def prechat_form(mode: Any, wanted: Any) -> tuple[str, tuple[str, ...]]:
    """The pre-chat form: a mode and the fields it asks, in a fixed order ("email,name" or a list)."""
    if mode not in PRECHAT_MODES:
        raise Invalid(field="prechat", value=mode)
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",") if w.strip()]
    if not isinstance(wanted, (list, tuple)) or any(w not in PRECHAT_FIELDS for w in wanted):
        raise Invalid(field="prechat_fields", value=",".join(map(str, wanted)) if isinstance(wanted, (list, tuple)) else wanted)
    if mode != "off" and not wanted:
        raise Invalid(field="prechat_fields", value="")
    return mode, tuple(f for f in PRECHAT_FIELDS if f in wanted)


def offset(value: Any, field: str) -> int:
    """A launcher offset: a whole number of CSS px, 0..OFFSET_MAX (a digit string too, as typed)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= OFFSET_MAX:
        raise Invalid(field=field, value=value, max=OFFSET_MAX)
    return value


def clean_origin_list(origins: list[Any]) -> tuple[str, ...]:
    """Exact origins and ``https://*.example.com`` patterns, normalised, without repeats."""
    if not origins:
        raise Invalid(field="origin")
    return tuple(dict.fromkeys(fields.origin_pattern(o) for o in origins))


async def update_site(
    writer: GroupWriter, site: Site, *, offset_x: Any = None, offset_y: Any = None,
    consent_required: bool | None = None, live_visitors: bool | None = None,
) -> Site:
    """Change a site's placement and page-view settings; ``None`` leaves one as it is."""
    values: dict[str, Any] = {}
    if offset_x is not None:
        values["offset_x"] = offset(offset_x, "offset_x")
    if offset_y is not None:
        values["offset_y"] = offset(offset_y, "offset_y")
    if consent_required is not None:
        values["consent_required"] = bool(consent_required)
    if live_visitors is not None:
        values["live_visitors"] = bool(live_visitors)

    def job(tx: Tx) -> Site:
        if values:
            store.update_site(tx.conn, site.id, **values)
            # Open widgets read their config again (site.updated on the visitor socket).
            tx.append_event(events.SITE_UPDATED, {"site": {"id": site.id, "key": site.key}}, site_id=site.id)
        return store.get_site(tx.conn, site.id)  # type: ignore[return-value]

    return await writer.run(job)


async def set_allowed_origins(writer: GroupWriter, site: Site, origins: list[Any]) -> Site:
    clean_origins = clean_origin_list(origins)

    def job(tx: Tx) -> Site:
        store.update_allowed_origins(tx.conn, site.id, clean_origins)
        return store.get_site(tx.conn, site.id)  # type: ignore[return-value]

    return await writer.run(job)


async def site_by_key(db: Database, key: str) -> Site | None:
    if not isinstance(key, str) or len(key) > 64:
        return None
    return await db.read(lambda conn: store.get_site_by_key(conn, key))


async def list_sites(db: Database) -> list[Site]:
    return await db.read(store.list_sites)


def origin_allowed(site: Site, origin: str | None, own_origin: str | None) -> bool:
    """An allowed origin of the site (exact, or under a ``*.`` pattern), or our own (the
    panel iframe). Every origin check (widget HTTP and websocket) comes through here."""
    if not origin:
        return False
    try:
        normal = fields.origin(origin)
    except Invalid:
        return False
    if own_origin is not None and normal == own_origin:
        return True
    return any(fields.origin_matches(allowed, normal) for allowed in site.allowed_origins)


def texts_by_language(value: str | Mapping[str, Any] | None, field: str, *, max_chars: int) -> dict[str, str]:
    """A text an owner sets, per language: {"": default, "ru": ..., ...}. A plain string is
    the default; blank texts are left out."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = {"": value}
    if not isinstance(value, Mapping):
        raise Invalid(field=field)
    clean: dict[str, str] = {}
    for lang, text in value.items():
        if not isinstance(lang, str) or not (lang == "" or _TEXT_LANGUAGE.match(lang)):
            raise Invalid(field=field, value=lang)
        checked = fields.text(text, field, max_chars=max_chars, required=False)
        if checked:
            clean[lang] = checked
    return clean


def in_language(texts: Mapping[str, str], lang: str | None) -> str | None:
    """The text in ``lang``, else the site's default, else None."""
    return texts.get(lang or "") or texts.get("")


def text_color(color: str) -> str:
    """Black or white, whichever is readable on ``color`` (#rrggbb): white when it reaches
    the WCAG AA contrast of 4.5:1, else black (which then does: one of the two always does)."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#ffffff" if 1.05 / (luminance + 0.05) >= 4.5 else "#000000"


def tag_offset(value: str | None, default: int) -> int:
    """A script tag's data-offset-x/-y ("24" or "24px"), else ``default`` (the site's): a tag
    value that is missing or not 0..OFFSET_MAX px leaves the site's setting in force."""
    text = (value or "").strip().removesuffix("px").strip()
    return int(text) if text.isascii() and text.isdigit() and int(text) <= OFFSET_MAX else default


def widget_view(
    site: Site, lang: str | None, *, offset_x: str | None = None, offset_y: str | None = None,
    consent: str | None = None, faq: bool = False,
) -> dict[str, Any]:
    """What the widget may know about the site; ``greeting`` is in ``lang`` (or the default),
    ``greetings`` has every language, for a widget that picks its language itself;
    ``offset_x/y`` are the page's script-tag values when it gives them, else the site's;
    ``consent`` (the tag's data-consent): "required" asks for consent mode on a site that
    does not (a page cannot turn off what the site requires); ``faq``: the site has
    published FAQ articles (its tab shows only then, see widget_tabs)."""
    return {
        "key": site.key,
        "name": site.name,
        "color": site.color,
        "text_color": text_color(site.color),
        "position": site.position,
        "language": site.language,
        "greeting": in_language(site.greeting, lang),
        "greetings": dict(site.greeting),
        "offset_x": tag_offset(offset_x, site.offset_x),
        "offset_y": tag_offset(offset_y, site.offset_y),
        "live_visitors": site.live_visitors,
        "texts": {name: dict(texts) for name, texts in (site.texts or {}).items()},
        "default_country": site.default_country,
        "prechat": {"mode": site.prechat, "fields": list(site.prechat_fields)},
        "consent": site.consent_required or (consent or "").strip().lower() == "required",
        "tabs": widget_tabs(site, faq=faq),
        # The contact form: which fields it requires, the consent the visitor gives (the
        # site's text in this language, else the widget's own) and the privacy policy.
        "contact": {
            "required": list(site.contact_required),
            "consent": in_language(site.consent_text, lang),
            "privacy_url": site.privacy_url,
        } if site.contact_enabled else None,
    }


# ---- site settings (the console's site settings page) ------------------------------

# Visitor-facing texts an owner may write per language, with their limits: the greeting
# (its own column) and texts that stand in for the widget's own words of the same name.
SITE_TEXTS = {"greeting": GREETING_MAX_CHARS, "offline_note": 300, "placeholder": 100}
# The widget's views, in tab order: the switches on the settings page (``sites.tabs``
# stores the ones that are on). A switch is necessary, not sufficient: the FAQ tab also
# needs published articles, callback and contact their feature on (callbacks_enabled,
# contact_enabled; see widget_tabs).
TABS = ("chat", "faq", "callback", "contact")
# A site that never saved its tabs (``sites.tabs`` NULL): every switch on.
DEFAULT_TABS = TABS


def default_country(value: Any) -> str | None:
    """The settings form's default country: blank is None, else ``country``."""
    if isinstance(value, str) and not value.strip():
        return None
    return country(value.strip() if isinstance(value, str) else value)


def _check_color(value: Any) -> str:
    if not isinstance(value, str) or not _COLOR.match(value):
        raise Invalid(field="color")
    return value.lower()


def _check_position(value: Any) -> str:
    if value not in POSITIONS:
        raise Invalid(field="position")
    return str(value)


def _check_language(value: Any) -> str | None:
    if value is not None and value != "" and value not in LANGUAGES:
        raise Invalid(field="language")
    return value or None


def site_tabs(values: Any) -> tuple[str, ...]:
    values = () if values is None else values
    if not isinstance(values, (list, tuple)) or any(v not in TABS for v in values):
        raise Invalid(field="tabs")
    return tuple(t for t in TABS if t in values)


def check_settings(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, FrontdeskError]]:
    """Each setting checked on its own: the clean values (columns) and, per field, what is
    wrong (texts as ``greeting.ru``), so a form can say every mistake next to its field."""
    clean: dict[str, Any] = {}
    errors: dict[str, FrontdeskError] = {}
    checks: tuple[tuple[str, Any], ...] = (  # (field and column, checker of its value)
        ("name", lambda v: fields.text(v, "name", max_chars=200)),
        ("allowed_origins", lambda v: clean_origin_list(v or [])),
        ("color", _check_color),
        ("position", _check_position),
        ("language", _check_language),
        ("offset_x", lambda v: offset(v, "offset_x")),
        ("offset_y", lambda v: offset(v, "offset_y")),
        ("default_country", default_country),
        ("tabs", site_tabs),
    )
    for field, checker in checks:
        try:
            clean[field] = checker(values.get(field))
        except FrontdeskError as exc:
            errors[field] = exc
    try:
        clean["prechat"], clean["prechat_fields"] = prechat_form(values.get("prechat"), values.get("prechat_fields") or [])
    except FrontdeskError as exc:
        errors[exc.field or "prechat"] = exc
    clean["live_visitors"] = bool(values.get("live_visitors"))
    clean["consent_required"] = bool(values.get("consent_required"))
    clean["anonymize_ips"] = bool(values.get("anonymize_ips"))
    texts: dict[str, dict[str, str]] = {}
    for text_name, max_chars in SITE_TEXTS.items():
        given = values.get("texts", {}).get(text_name, {})
        texts[text_name] = {}
        for lang, text in (given.items() if isinstance(given, Mapping) else ()):
            field = f"{text_name}.{lang}" if lang else text_name
            try:
                texts[text_name].update(texts_by_language({lang: text}, text_name, max_chars=max_chars))
            except FrontdeskError as exc:
                errors[field] = exc
    clean["greeting"] = texts.pop("greeting")
    clean["texts"] = {k: v for k, v in texts.items() if v}
    return clean, errors


async def update_settings(writer: GroupWriter, site_id: int, clean: Mapping[str, Any]) -> Site:
    """Store checked settings (check_settings) and tell open widgets (``site.updated``):
    the panel reads its config again, without a reload of the host page."""

    def job(tx: Tx) -> Site:
        site = store.get_site(tx.conn, site_id)
        if site is None:
            raise Invalid(field="site")
        store.update_site(tx.conn, site_id, **clean)
        tx.append_event(events.SITE_UPDATED, {"site": {"id": site_id, "key": site.key}}, site_id=site_id)
        return store.get_site(tx.conn, site_id)  # type: ignore[return-value]

    return await writer.run(job)


def settings_of(site: Site) -> dict[str, Any]:
    """A site's settings in check_settings' shape (what the settings form starts from)."""
    texts = {name: dict((site.texts or {}).get(name, {})) for name in SITE_TEXTS if name != "greeting"}
    return {
        "name": site.name, "allowed_origins": list(site.allowed_origins), "color": site.color,
        "position": site.position, "language": site.language, "offset_x": site.offset_x, "offset_y": site.offset_y,
        "default_country": site.default_country, "tabs": tab_switches(site),
        "live_visitors": site.live_visitors, "consent_required": site.consent_required,
        "prechat": site.prechat, "prechat_fields": list(site.prechat_fields), "anonymize_ips": site.anonymize_ips,
        "texts": {"greeting": dict(site.greeting), **texts},
    }


def tab_switches(site: Site) -> list[str]:
    """The tabs the site has switched on, in tab order: the settings page's choice
    (``sites.tabs``), else the default. A switch is not a promise to show the tab."""
    return list(site.tabs if site.tabs is not None else DEFAULT_TABS)


def widget_tabs(site: Site, *, faq: bool = False) -> list[str]:
    """The panel's views, in tab order (chat, faq, callback, contact): the tabs switched on
    (tab_switches), less those with nothing to show: the FAQ only when the site has
    published articles (``faq``: the tab appears with the first one), callback requests
    only when the site takes them (callbacks_enabled), the contact form only when it is on
    (contact_enabled)."""
    has = {"chat": True, "faq": faq, "callback": site.callbacks_enabled, "contact": site.contact_enabled}
    return [tab for tab in tab_switches(site) if has[tab]]
