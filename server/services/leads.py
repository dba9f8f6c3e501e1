"""Leads: one per person per site, gathering what every visitor record of that person gave
(name, email, phone, verified user id) and what their browsers told (addresses and where
they are, browser, language, time zone, pages, referrer, UTM tags).

Rules:
* A visitor gets a lead when they register (the panel's first POST …/visitors); every later
  session of that visitor updates it (address, browser, a new visit after 30 idle minutes).
* The same verified user id, email or phone on another live lead of the SAME site merges
  the two into the older one: visitors (so conversations), addresses and pages move over,
  empty fields are filled from the absorbed lead, which keeps its row (``merged_into``) so no
  attribute is lost. Recorded as ``lead.merged``. Never across sites.
* Every change is an event in the change's transaction: ``lead.created``, ``lead.updated``
  (``changed`` says which fields; a page view changes ``current_url``), ``lead.merged``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.engine import Connection

from ..errors import Invalid, InvalidToken
from ..store import lead_pipeline as pipeline_store
from ..store import leads as store
from ..store import visitors as visitor_store
from ..store.db import Database
from ..store.sites import Site
from ..store.writer import GroupWriter, Tx, on_loop
from . import events, fields
from .geo import Geolocator, Place, anonymize
from .useragents import Browser, parse

VISIT_GAP = timedelta(minutes=30)  # a session after this long without one is a new visit
USER_ID_MAX = 200


@dataclass(frozen=True)
class Arrival:
    """What a session's request tells about the visitor (worked out off the event loop)."""

    ip: str | None  # as stored: anonymised if the site asks
    place: Place
    browser: Browser


def _arrival(geo: Geolocator, ip: str | None, user_agent: str | None, anonymize_ip: bool) -> Arrival:
    place = geo.lookup(ip)  # from the full address, before anonymising
    return Arrival(anonymize(ip) if anonymize_ip else ip, place, parse(user_agent))


async def arrival(geo: Geolocator, site: Site, ip: str | None, user_agent: str | None) -> Arrival:
    """Geolocation and user-agent parsing in a thread: the first UA parse loads its rules
    (~0.3 s) and a city database read is file I/O (docs/benchmarks.md, "Leads")."""
    return await asyncio.to_thread(_arrival, geo, ip, user_agent, site.anonymize_ips)


def utm_tags(url: str | None) -> dict[str, str | None]:
    if not url:
        return {}
    query = dict(parse_qsl(urlsplit(url).query))
    return {name: fields.cut(query.get(name), 200) for name in store.UTM}


def _aware(value: Any) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def on_session(
    tx: Tx, site: Site, visitor_id: str, lead_id: str | None, seen: Arrival, *,
    language: str | None, page_url: str | None, lead_key: str,
) -> str:
    """In start_session's job: the visitor's lead created, or brought up to date. Returns its id."""
    conn = tx.conn
    place, browser = seen.place, seen.browser
    values: dict[str, Any] = {
        "ip": seen.ip, "country": place.country, "region": place.region, "city": place.city,
        "browser": browser.browser, "os": browser.os, "device": browser.device,
    }
    if language:
        values["language"] = language
    row = store.get_lead_row(conn, lead_id) if lead_id else None
    if row is not None and row.merged_into:  # the visitor's lead was merged: follow it
        row = store.get_lead_row(conn, row.merged_into)
    if row is None:
        landing = {"landing_url": page_url, **utm_tags(page_url)} if page_url else {}
        lead = store.insert_lead(conn, id=lead_key, site_id=site.id, **values, **landing)
        visitor_store.update_visitor(conn, visitor_id, lead_id=lead["id"])
        if seen.ip:
            store.record_address(conn, lead["id"], seen.ip, country=place.country, region=place.region, city=place.city)
        tx.append_event(events.LEAD_CREATED, {"lead": lead}, site_id=site.id)
        return lead["id"]
    new_visit = datetime.now(timezone.utc) - _aware(row.last_seen_at) > VISIT_GAP
    changed = [k for k, v in values.items() if getattr(row, k) != v] + (["visits"] if new_visit else [])
    store.count_visit(conn, row.id, new_visit=new_visit, **values)
    if row.id != lead_id:
        visitor_store.update_visitor(conn, visitor_id, lead_id=row.id)
    if seen.ip:
        store.record_address(conn, row.id, seen.ip, country=place.country, region=place.region, city=place.city)
    if changed:
        tx.append_event(events.LEAD_UPDATED, {"lead": store.get_lead(conn, row.id), "changed": changed}, site_id=site.id)
    return row.id  # type: ignore[no-any-return]


# ---- verified identity


def user_hash(secret: str, user_id: str) -> str:
    """What the site's server computes: hex HMAC-SHA256 of the user id under the site's secret."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verified_user(site: Site, user_id: Any, given_hash: Any) -> str:
    """The user id if ``given_hash`` is its HMAC under the site's identity secret; else Invalid
    (a user id without a valid hash changes nothing)."""
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > USER_ID_MAX:
        raise Invalid(field="user_id")
    if not isinstance(given_hash, str) or not site.identity_secret:
        raise Invalid(field="user_hash")
    if not hmac.compare_digest(user_hash(site.identity_secret, user_id), given_hash.strip().lower()):
        raise Invalid(field="user_hash")
    return user_id


# ---- identify and merge


def join(tx: Tx, site_id: int, visitor_id: str, *, name: str | None, email: str | None, phone: str | None) -> None:
    """What a visitor gave outside the chat (the contact form, a callback request) joins their
    lead, as identify does: a visitor without one (a form sent before any chat) gets one,
    then the same email or phone on the site merges it with the person's other leads."""
    visitor = visitor_store.get_visitor(tx.conn, visitor_id)
    if visitor is None:
        return
    if visitor.lead_id is None:
        lead = store.insert_lead(tx.conn, id=uuid.uuid4().hex, site_id=site_id)
        visitor_store.update_visitor(tx.conn, visitor_id, lead_id=lead["id"])
        tx.append_event(events.LEAD_CREATED, {"lead": lead}, site_id=site_id)
    changes = {k: v for k, v in (("name", name), ("email", email), ("phone", phone)) if v}
    on_identify(tx, site_id, visitor_id, changes)



def on_identify(tx: Tx, site_id: int, visitor_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """In identify's job: the lead takes the fields the visitor gave, then merges with every
    other live lead of the site that has the same user id, email or phone. Returns the lead."""
    conn = tx.conn
    visitor = visitor_store.get_visitor(conn, visitor_id)
    if visitor is None:
        raise InvalidToken()
    row = store.get_lead_row(conn, visitor.lead_id) if visitor.lead_id else None
    while row is not None and row.merged_into:
        row = store.get_lead_row(conn, row.merged_into)
    if row is None:
        return None  # a visitor from before leads existed: their next session makes one
    if changes.get("email"):
        # One person whatever the case they type: the lead keeps the address lower-cased (the
        # visitor record keeps it as typed), so the same email always finds the same lead.
        changes = {**changes, "email": changes["email"].lower()}
    values = {k: v for k, v in changes.items() if v is not None and getattr(row, k) != v}
    if values:
        store.update_lead(conn, row.id, **values)
        tx.append_event(
            events.LEAD_UPDATED, {"lead": store.get_lead(conn, row.id), "changed": sorted(values)}, site_id=site_id
        )
    lead_id = row.id
    match = {k: changes.get(k) for k in ("user_id", "email", "phone")}
    for other in store.find_leads(conn, site_id, exclude=lead_id, **match):
        lead_id = merge(tx, site_id, lead_id, other.id)
    return store.get_lead(conn, lead_id)


def merge(tx: Tx, site_id: int, a: str, b: str) -> str:
    """Merge two live leads of one site into the older; returns the survivor's id."""
    conn = tx.conn
    first, second = store.get_lead_row(conn, a), store.get_lead_row(conn, b)
    if first.site_id != site_id or second.site_id != site_id:  # never across sites
        raise Invalid(field="lead")
    keep, gone = (first, second) if (_aware(first.first_seen_at), first.id) <= (_aware(second.first_seen_at), second.id) else (second, first)
    filled = {k: getattr(gone, k) for k in store.MERGED_FIELDS if getattr(keep, k) is None and getattr(gone, k) is not None}
    store.move_lead(conn, gone.id, keep.id)
    pipeline_store.move_pipeline(conn, gone.id, keep.id)  # notes and tags too: nothing an operator wrote is lost
    # The pipeline: the survivor's unless it is still new (then the absorbed one's, reason and all).
    moved = keep if keep.status != "new" else gone
    store.update_lead(
        conn, keep.id, **filled, visits=keep.visits + gone.visits,
        last_seen_at=max(_aware(keep.last_seen_at), _aware(gone.last_seen_at)),
        status=moved.status, lost_reason=moved.lost_reason, status_changed_at=moved.status_changed_at,
        owner_id=keep.owner_id if keep.owner_id is not None else gone.owner_id,
    )
    store.update_lead(conn, gone.id, merged_into=keep.id)
    tx.append_event(
        events.LEAD_MERGED,
        {"lead": store.get_lead(conn, keep.id), "merged": store.get_lead(conn, gone.id), "filled": sorted(filled)},
        site_id=site_id,
    )
    return keep.id  # type: ignore[no-any-return]


# ---- the journey


def check_page(data: dict[str, Any]) -> dict[str, Any]:
    """A page.viewed frame's values: url required (http/https), the rest cut or dropped."""
    url = fields.page_url(data.get("url"))
    if url is None:
        raise Invalid(field="url")
    referrer = data.get("referrer")
    try:
        referrer = fields.page_url(referrer, "referrer")
    except Invalid:
        referrer = None  # an odd referrer (android-app://…) is not worth refusing the page for
    return {
        "url": url, "title": fields.cut(data.get("title"), 300), "referrer": referrer,
        "timezone": fields.timezone_name(data.get("timezone")),
    }


def queue_page_view(writer: GroupWriter, site_id: int, visitor_id: str, page: dict[str, Any]) -> Any:
    """The visitor is on ``page`` now: stored and announced (``lead.updated``), in the
    writer's next batch beside the messages (a page view costs the chat no commit of its own)."""

    @on_loop
    def job(tx: Tx) -> dict[str, Any] | None:
        conn = tx.conn
        row = store.lead_of_visitor(conn, visitor_id)  # one statement on the usual path
        while row is not None and row.merged_into:
            row = store.get_lead_row(conn, row.merged_into)
        if row is None:
            return None
        values: dict[str, Any] = {}
        if page["timezone"] and row.timezone != page["timezone"]:
            values["timezone"] = page["timezone"]
            visitor_store.update_visitor(conn, visitor_id, timezone=page["timezone"])
        if row.landing_url is None or (row.referrer is None and page["referrer"] and row.landing_url == page["url"]):
            # The landing page: where the lead came from and with which campaign.
            values.update({"landing_url": page["url"], "referrer": page["referrer"], **utm_tags(page["url"])})
        elif row.referrer is None and page["referrer"] and urlsplit(page["referrer"]).netloc != urlsplit(page["url"]).netloc:
            values["referrer"] = page["referrer"]
        if values:  # the first page of a visit, a new time zone: rare
            store.update_lead(conn, row.id, **values)
        view = store.insert_page_view(conn, lead_id=row.id, visitor_id=visitor_id, url=page["url"], title=page["title"])
        # The lead as it now stands, without reading it back.
        lead = {**store.lead_from_row(row), **values, "current_url": page["url"], "current_title": page["title"],
                "last_seen_at": view["at"]}
        changed = sorted({*values, "current_url", "current_title"})
        tx.append_event(events.LEAD_UPDATED, {"lead": lead, "changed": changed, "page": view}, site_id=site_id)
        return view

    return writer.submit(job)


# ---- reading


async def phone_region(db: Database, site: Site, visitor_id: str) -> str | None:
    """Where a phone typed without a country code is read: the site's default country, else
    the country of the visitor's address."""
    if site.default_country:
        return site.default_country

    def read(conn: Connection) -> str | None:
        visitor = visitor_store.get_visitor(conn, visitor_id)
        lead = store.get_lead(conn, visitor.lead_id) if visitor and visitor.lead_id else None
        return lead["country"] if lead else None

    return await db.read(read)


async def lead_card(db: Database, visitor_id: str, site_ids: Any = None) -> dict[str, Any] | None:
    """Everything known about the person behind a visitor, for the console's panel; None
    for a visitor of a site not in ``site_ids`` (None: any site)."""

    def read(conn: Connection) -> dict[str, Any] | None:
        visitor = visitor_store.get_visitor(conn, visitor_id)
        if visitor is None or not visitor.lead_id or (site_ids is not None and visitor.site_id not in site_ids):
            return None
        lead = store.get_lead(conn, visitor.lead_id)
        while lead is not None and lead["merged_into"]:
            lead = store.get_lead(conn, lead["merged_into"])
        if lead is None:
            return None
        return {
            "lead": lead,
            "addresses": store.list_addresses(conn, lead["id"]),
            "pages": store.list_page_views(conn, lead["id"]),
            "conversations": store.lead_conversations(conn, lead["id"]),
            "visitor_ids": store.lead_visitor_ids(conn, lead["id"]),
        }

    return await db.read(read)


async def list_leads(db: Database, *, limit: int = 200, site_ids: Any = None) -> list[dict[str, Any]]:
    return await db.read(lambda conn: store.list_leads(conn, limit=limit, site_ids=site_ids))
