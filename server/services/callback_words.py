"""Callbacks in words for people: days, dates and times in the reader's language and
zone (Babel/CLDR on the server: Chromium's Intl has no Kazakh), the slots a visitor is
offered, country names for the phone picker."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale
from babel.dates import get_timezone_location

from ..locales import format_date, format_time
from ..store import callbacks as store
from ..store.callbacks import Callback
from ..store.db import Database, utcnow
from ..store.sites import Site
from . import phones, slots
from .callbacks import schedule_for

UTC = timezone.utc


def day_label(lang: str, day: date) -> str:
    weekday = format_date(lang, day, "EEEE")
    label = f"{weekday}, {format_date(lang, day, 'd MMMM')}"
    return label[:1].upper() + label[1:]


def time_label(lang: str, moment: datetime, tz: ZoneInfo) -> str:
    return format_time(lang, moment, "short", tz=tz)


def zone_label(lang: str, tz: str) -> str:
    try:
        return str(get_timezone_location(ZoneInfo(tz), locale=lang, return_city=True))
    except Exception:  # a zone CLDR has no city for
        return tz


def when(lang: str, moment: datetime, visitor_tz: ZoneInfo, site_tz: str) -> dict[str, Any]:
    """A moment in words for the visitor: their day and time, and the site's if different."""
    local = moment.astimezone(visitor_tz)
    site_zone = ZoneInfo(site_tz)
    differs = local.utcoffset() != moment.astimezone(site_zone).utcoffset()
    return {
        "day": day_label(lang, local.date()),
        "time": time_label(lang, moment, visitor_tz),
        "site_time": time_label(lang, moment, site_zone) if differs else None,
        "site_day": day_label(lang, moment.astimezone(site_zone).date()) if differs else None,
    }


def callback_view(callback: Callback, lang: str, visitor_tz: ZoneInfo, site: Site) -> dict[str, Any]:
    """A callback as the visitor's panel shows it."""
    return {
        "id": callback.id, "status": callback.status, "asap": callback.slot_start is None,
        "phone": callback.phone, "phone_display": phones.display(callback.phone), "slot": callback.public()["slot_start"],
        "when": when(lang, callback.due_at, visitor_tz, site.callback_tz),
    }


async def offer(
    db: Database, site: Site, lang: str, visitor_tz: ZoneInfo, first: date, days: int, *, operators_online: bool,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What the callback tab shows: whether callbacks are on, "as soon as possible" now,
    and the free slots on the visitor's dates ``first``.., grouped by day, in their zone."""
    moment = now or utcnow()
    base = {"enabled": site.callbacks_enabled, "site_tz": site.callback_tz, "site_zone": zone_label(lang, site.callback_tz),
            "tz": str(visitor_tz.key), "country": site.default_country}
    if not site.callbacks_enabled:
        return {**base, "asap": False, "days": []}
    schedule = schedule_for(site)
    last = first + timedelta(days=max(1, min(days, slots.HORIZON_DAYS + 1)) - 1)
    a, b = slots.local_dates_for(schedule, visitor_tz, first, last)
    start = datetime.combine(a, datetime.min.time(), UTC) - timedelta(days=1)
    end = datetime.combine(b, datetime.min.time(), UTC) + timedelta(days=2)
    taken = await db.read(lambda conn: store.taken_places(conn, site.id, start, end))
    found = slots.visitor_slots(schedule, visitor_tz, first, last, now=moment, taken=taken)
    by_day: dict[date, list[dict[str, Any]]] = {}
    site_zone = ZoneInfo(site.callback_tz)
    for slot in found:
        local = slot.start.astimezone(visitor_tz)
        differs = local.utcoffset() != slot.start.astimezone(site_zone).utcoffset()
        by_day.setdefault(local.date(), []).append({
            "start": slot.start.isoformat().replace("+00:00", "Z"),
            "time": time_label(lang, slot.start, visitor_tz),
            "site_time": time_label(lang, slot.start, site_zone) if differs else None,
            "free": slot.free,
        })
    return {
        **base,
        "asap": operators_online and slots.open_now(schedule, moment),
        "days": [{"date": d.isoformat(), "label": day_label(lang, d), "slots": s} for d, s in sorted(by_day.items())],
        "horizon_days": slots.HORIZON_DAYS,
    }


def country_names(lang: str) -> list[dict[str, str]]:
    """Every region phonenumbers knows, named in ``lang``, with its calling code."""
    names = Locale.parse(lang).territories
    out = [
        {"code": r, "name": names.get(r, r), "dial": str(phonenumbers.country_code_for_region(r))}
        for r in phonenumbers.SUPPORTED_REGIONS if r != "001"
    ]
    return sorted(out, key=lambda c: c["name"])


def region_name(lang: str, region_code: str) -> str:
    return str(Locale.parse(lang).territories.get(region_code, region_code))
