"""A site's settings page (admins): name, origins, look, placement, texts per language,
tabs, default country, forced language, the pre-chat form, anonymised addresses, the
identity secret (shown, not edited) and the snippet. A saved change is a
``site.updated`` event: open widgets read their config again at once."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import FrontdeskError, NotFound, TooLarge
from ...locales import LANGUAGES
from ...services import sites
from ...store.sites import Site
from ..context import app_state, base_url
from .forms import Form, csrf_failed, read_form, said
from .language import console_language
from .pages import console_data, render_sites, snippet
from .rendering import render_page
from .roles import signed_in
from . import site_callbacks

# The text fields' languages: "" is the default, shown where no text of the visitor's
# language is set.
TEXT_LANGUAGES = ("", *LANGUAGES)
MAX_ORIGINS = 100


def _values_from(form: Form) -> dict[str, Any]:
    """The form as check_settings takes it."""
    origins = [line.strip() for line in form.get("allowed_origins").splitlines() if line.strip()]
    texts = {
        name: {lang: form.get(f"text.{name}.{lang or 'default'}") for lang in TEXT_LANGUAGES}
        for name in sites.SITE_TEXTS
    }
    return {
        "name": form.get("name"), "allowed_origins": origins[: MAX_ORIGINS + 1], "color": form.get("color"),
        "position": form.get("position"), "language": form.get("language") or None,
        "offset_x": form.get("offset_x"), "offset_y": form.get("offset_y"),
        "default_country": form.get("default_country"), "tabs": form.all("tabs"),
        "live_visitors": form.get("live_visitors") == "on", "consent_required": form.get("consent_required") == "on",
        "prechat": form.get("prechat"), "prechat_fields": form.all("prechat_fields"),
        "anonymize_ips": form.get("anonymize_ips") == "on",
        "texts": texts,
    }


async def _site(request: Request) -> Site | None:
    return await sites.site_by_key(app_state(request).db, request.path_params["key"])


async def _render(
    request: Request, site: Site, values: dict[str, Any], *, errors: dict[str, str] | None = None,
    notice: str | None = None, error: str | None = None, status_code: int = 200,
    callback_values: dict[str, Any] | None = None, callback_errors: dict[str, str] | None = None,
) -> Response:
    operator = signed_in(request)
    shown = dict(values)
    shown["allowed_origins"] = "\n".join(values["allowed_origins"])
    context = {
        "site": {"key": site.key, "name": site.name, "identity_secret": site.identity_secret}, "values": shown, "errors": errors or {}, "notice": notice,
        "error": error, "snippet": snippet(base_url(request), site.key), "text_names": list(sites.SITE_TEXTS),
        "text_languages": TEXT_LANGUAGES, "tabs": sites.TABS, "positions": sites.POSITIONS,
        "offset_max": sites.OFFSET_MAX, "text_max": sites.SITE_TEXTS,
        "prechat_modes": sites.PRECHAT_MODES, "prechat_fields": sites.PRECHAT_FIELDS,
        "console_data": console_data(request, operator, "sites"),
        "cb": callback_values or site_callbacks.values_of(site), "cb_errors": callback_errors or {},
    }
    return await render_page(request, "console/site_settings.html", context, operator=operator, status_code=status_code)


async def _missing(request: Request) -> Response:
    return await render_page(
        request, "console/message.html", {"message": said(request, NotFound(field="site"))},
        operator=signed_in(request), status_code=404,
    )


async def settings_page(request: Request) -> Response:
    site = await _site(request)
    if site is None:
        return await _missing(request)
    return await _render(request, site, sites.settings_of(site))


async def save(request: Request) -> Response:
    site = await _site(request)
    if site is None:
        return await _missing(request)
    form = await read_form(request)
    if form is None:
        return await _render(request, site, sites.settings_of(site), error=csrf_failed(request), status_code=403)
    values = _values_from(form)
    clean, problems = sites.check_settings(values)
    if len(values["allowed_origins"]) > MAX_ORIGINS:
        problems["allowed_origins"] = TooLarge(field="allowed_origins", max=MAX_ORIGINS)
    if problems:
        errors = {field: said(request, exc) for field, exc in problems.items()}
        return await _render(request, site, values, errors=errors, status_code=400)
    saved = await sites.update_settings(app_state(request).writer, site.id, clean)
    lang = console_language(request, signed_in(request))
    notice = app_state(request).catalogs.translate(lang, "site_settings.saved")
    return await _render(request, saved, sites.settings_of(saved), notice=notice)


async def create(request: Request) -> Response:
    """The sites page's "Add a site": a name and origins; the rest is set on its settings page."""
    form = await read_form(request)
    if form is None:
        return await render_sites(request, {"error": csrf_failed(request)}, 403)
    origins = [line.strip() for line in form.get("allowed_origins").splitlines() if line.strip()]
    kept = {"name": form.get("name")[:400], "allowed_origins": form.get("allowed_origins")[:10_000]}
    try:
        if len(origins) > MAX_ORIGINS:
            raise TooLarge(field="allowed_origins", max=MAX_ORIGINS)
        site = await sites.create_site(app_state(request).writer, form.get("name"), origins)
    except FrontdeskError as exc:
        field = "allowed_origins" if exc.field == "origin" else exc.field or "name"
        return await render_sites(request, {"errors": {field: said(request, exc)}, "form": kept}, 400)
    lang = console_language(request, signed_in(request))
    notice = app_state(request).catalogs.translate(lang, "sites.created")
    return await _render(request, site, sites.settings_of(site), notice=notice)


# For the page's other sections (site_callbacks.py).
site_of, missing, render, settings_of = _site, _missing, _render, sites.settings_of
