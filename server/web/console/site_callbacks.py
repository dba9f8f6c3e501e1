"""The "Call me back" section of a site's settings page (admins): callbacks on or off,
business hours, time zone, days off, slot length, lead time, capacity and the phone
countries called. Its own form: each field is checked on its own and a mistake is named
next to its field, nothing stored; a save is a ``site.updated`` event (open widgets show
or hide the tab at once). The CLI's ``set-callbacks`` sets the same columns."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import FrontdeskError
from ...services import callbacks, slots
from ...store.sites import Site
from ..context import app_state
from .forms import Form, csrf_failed, read_form, said
from .language import console_language
from .roles import signed_in

# check_settings' argument -> the site column (and the form field of the same name).
FIELDS = {
    "enabled": "callbacks_enabled", "tz": "callback_tz", "hours": "callback_hours", "days_off": "callback_days_off",
    "slot_minutes": "callback_slot_minutes", "lead_minutes": "callback_lead_minutes",
    "capacity": "callback_capacity", "countries": "callback_countries",
}


def values_of(site: Site) -> dict[str, Any]:
    """What the section shows for the stored settings."""
    return {
        "callbacks_enabled": site.callbacks_enabled, "callback_tz": site.callback_tz,
        "callback_hours": site.callback_hours, "callback_days_off": site.callback_days_off,
        "callback_slot_minutes": site.callback_slot_minutes, "callback_lead_minutes": site.callback_lead_minutes,
        "callback_capacity": site.callback_capacity, "callback_countries": site.callback_countries,
        "slot_choices": list(slots.SLOT_MINUTES),
    }


def _given(form: Form) -> dict[str, Any]:
    given: dict[str, Any] = {name: form.get(column)[:2000] for name, column in FIELDS.items()}
    given["enabled"] = form.get("callbacks_enabled") == "on"
    return given


def check(given: dict[str, Any]) -> dict[str, FrontdeskError]:
    """Each field on its own, so that every mistake is named at once (by its column)."""
    problems: dict[str, FrontdeskError] = {}
    for name, value in given.items():
        try:
            callbacks.check_settings(**{name: value})
        except FrontdeskError as exc:
            problems[FIELDS[name]] = exc
    return problems


async def save(request: Request) -> Response:
    """POST /console/sites/{key}/callbacks"""
    from . import site_settings  # the page this section is part of

    site = await site_settings.site_of(request)
    if site is None:
        return await site_settings.missing(request)
    page = site_settings.settings_of(site)
    form = await read_form(request)
    if form is None:
        return await site_settings.render(request, site, page, error=csrf_failed(request), status_code=403)
    given = _given(form)
    problems = check(given)
    if problems:
        shown = {**values_of(site), **{FIELDS[n]: v for n, v in given.items()}}
        errors = {column: said(request, exc) for column, exc in problems.items()}
        return await site_settings.render(
            request, site, page, callback_values=shown, callback_errors=errors, status_code=400,
        )
    saved = await callbacks.update_settings(app_state(request).writer, site, **given)
    lang = console_language(request, signed_in(request))
    notice = app_state(request).catalogs.translate(lang, "site_settings.callbacks.saved")
    return await site_settings.render(request, saved, site_settings.settings_of(saved), notice=notice)
