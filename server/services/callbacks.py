"""Callback requests: "call me back at a time that suits me".

A visitor asks for a call as soon as possible (while someone is on duty) or in a slot
of the site's schedule (services/slots.py); operators call and record each attempt.
Every change appends ``callback.requested`` / ``callback.updated`` in its transaction.
A slot's places are counted in ``callback_slots`` (store/callbacks.py take_place), so
two visitors racing for the last place cannot both get it, on any number of nodes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy.exc import IntegrityError

from ..errors import Invalid, NotFound
from ..security import VisitorClaim
from ..store import callbacks as store
from ..store import conversations as conversation_store
from ..store import visitors as visitor_store
from ..store.callbacks import Callback
from ..store.db import Database, utcnow
from ..store.sites import Site
from ..store.writer import GroupWriter, Tx
from ..throttle import Throttle
from . import callback_assignment, events, fields, leads, rates, slots
from .slots import Schedule

UTC = timezone.utc
NOTE_MAX_CHARS = 500
NAME_MAX_CHARS = 200
OUTCOMES = ("done", "no_answer", "wrong_number", "cancelled")
RESCHEDULE_MINUTES = (15, 60)  # "no answer" offers: in 15 minutes, in an hour (or a slot)
MAX_PENDING_PER_VISITOR = 5


def schedule_for(site: Site) -> Schedule:
    """The site's stored schedule (checked when it was set)."""
    return Schedule(
        tz=site.callback_tz,
        hours=slots.parse_hours(site.callback_hours),
        days_off=slots.parse_days_off([site.callback_days_off]),
        slot_minutes=site.callback_slot_minutes,
        lead_minutes=site.callback_lead_minutes,
        capacity=site.callback_capacity,
    )


def accepted_regions(site: Site) -> frozenset[str]:
    return frozenset(r for r in site.callback_countries.split(",") if r)


# ---- site settings


def check_settings(
    *, enabled: Any = None, tz: Any = None, hours: Any = None, days_off: Any = None, slot_minutes: Any = None,
    lead_minutes: Any = None, capacity: Any = None, country: Any = None, countries: Any = None,
) -> dict[str, Any]:
    """Site columns for the callback settings given (None: unchanged), each checked."""
    values: dict[str, Any] = {}
    if enabled is not None:
        values["callbacks_enabled"] = bool(enabled)
    if tz is not None:
        values["callback_tz"] = slots.zone(tz, "callback_tz")
    if hours is not None:
        values["callback_hours"] = slots.format_hours(slots.parse_hours(hours, "callback_hours"))
    if days_off is not None:
        parsed = slots.parse_days_off([days_off] if isinstance(days_off, str) else days_off, "callback_days_off")
        values["callback_days_off"] = ",".join(sorted(d.isoformat() for d in parsed))
    for name, value, allowed in (
        ("callback_slot_minutes", slot_minutes, slots.SLOT_MINUTES),
        ("callback_lead_minutes", lead_minutes, range(0, slots.MAX_LEAD_MINUTES + 1)),
        ("callback_capacity", capacity, range(1, slots.MAX_CAPACITY + 1)),
    ):
        if value is not None:
            number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
            if isinstance(number, bool) or not isinstance(number, int) or number not in allowed:
                raise Invalid(field=name, value=value)
            values[name] = number
    if country is not None:
        values["default_country"] = region(country, "default_country") if country else None
    if countries is not None:
        items = countries.split(",") if isinstance(countries, str) else countries
        values["callback_countries"] = ",".join(sorted({region(c, "callback_countries") for c in items if c.strip()}))
    return values


def region(value: Any, field: str) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise Invalid(field=field, value=str(value)[:8])
    return code


# ---- the visitor's side


def check_phone(value: Any, country: Any, site: Site) -> str:
    """E.164 for what the visitor typed, read in ``country`` when it has no +code; the
    reason names what is wrong (too short / too long for the country, not a number, a
    country the site does not call)."""
    raw = fields.text(value, "phone", max_chars=32)
    where = country.upper() if isinstance(country, str) and country.upper() in phonenumbers.SUPPORTED_REGIONS else None
    try:
        number = phonenumbers.parse(raw, where)
    except phonenumbers.NumberParseException:
        raise Invalid(field="phone", reason="not_a_number") from None
    number_region = phonenumbers.region_code_for_number(number)
    if where and phonenumbers.country_code_for_region(where) == number.country_code and (
        number_region is None or not phonenumbers.is_valid_number(number)
    ):
        number_region = where  # +7 is Russia's and Kazakhstan's: say the country they picked
    possible = phonenumbers.is_possible_number_with_reason(number)
    reasons = {
        phonenumbers.ValidationResult.TOO_SHORT: "too_short",
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too_short",
        phonenumbers.ValidationResult.TOO_LONG: "too_long",
        phonenumbers.ValidationResult.INVALID_LENGTH: "too_short",
        phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "not_a_number",
    }
    if possible in reasons:
        raise Invalid(field="phone", reason=reasons[possible], region=number_region or where or "")
    if not phonenumbers.is_valid_number(number):
        raise Invalid(field="phone", reason="invalid_for_country", region=number_region or where or "")
    allowed = accepted_regions(site)
    if allowed and number_region not in allowed:
        raise Invalid(field="phone", reason="country_refused", region=number_region or "")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def visitor_zone(value: Any) -> ZoneInfo:
    """The visitor's zone as the browser says it; UTC if it says nothing we know."""
    try:
        return ZoneInfo(slots.zone(value))
    except Invalid:
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Request:
    """What a visitor asked for, checked."""

    client_id: str
    phone: str
    name: str | None
    note: str | None
    slot: datetime | None  # None: as soon as possible
    language: str | None
    visitor_tz: str | None


def check_request(data: dict[str, Any], site: Site, languages: tuple[str, ...]) -> Request:
    client_id = fields.client_id(data.get("id"), "id")
    phone = check_phone(data.get("phone"), data.get("country"), site)
    name = fields.text(data.get("name"), "name", max_chars=NAME_MAX_CHARS, required=False)
    note = fields.text(data.get("note"), "note", max_chars=NOTE_MAX_CHARS, required=False)
    slot: datetime | None = None
    if not data.get("asap"):
        raw = data.get("slot")
        if not isinstance(raw, str) or len(raw) > 40:
            raise Invalid(field="slot")
        slot = instant(raw, "slot")
    tz = data.get("tz")
    return Request(
        client_id, phone, name, note, slot, fields.language(data.get("language"), languages),
        _zone_or_none(tz),
    )


def instant(raw: str, field: str) -> datetime:
    """An ISO 8601 time with its offset (a bare local time is ambiguous), in UTC."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise Invalid(field=field)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # year 1 at +14:00 falls off the calendar
        raise Invalid(field=field) from None


def _zone_or_none(value: Any) -> str | None:
    try:
        return slots.zone(value)
    except Invalid:
        return None  # the browser's own zone name: an unknown one is not the visitor's fault


async def check_request_rate(throttle: Throttle, visitor_id: str, *, per_minute: int) -> None:
    await rates.check_per_minute(throttle, "callback_requests", visitor_id, per_minute=per_minute, reason="callbacks")


async def request_callback(
    writer: GroupWriter, site: Site, claim: VisitorClaim, request: Request, *, operators_online: bool,
    now: datetime | None = None,
) -> tuple[Callback, bool]:
    """The visitor's callback; (callback, created). The same client id again returns the
    first one unchanged (a double click, a retried request)."""
    if not site.callbacks_enabled:
        raise Invalid(field="callbacks", reason="off")
    schedule = schedule_for(site)
    moment = now or utcnow()
    on_duty = operators_online and slots.open_now(schedule, moment)

    def job(tx: Tx) -> tuple[Callback, bool]:
        existing = store.find_by_client_id(tx.conn, site.id, request.client_id)
        if existing is not None:  # checked first: a retry gets its callback even if things changed since
            if existing.visitor_id != claim.visitor_id:
                raise Invalid(field="id", reason="taken")
            return existing, False
        if request.slot is None and not on_duty:
            raise Invalid(field="slot", reason="nobody_on_duty")
        visitor = visitor_store.get_visitor(tx.conn, claim.visitor_id)
        if visitor is None or visitor.site_id != site.id:
            raise NotFound("not_found", field="visitor")
        if len(store.list_for_visitor(tx.conn, visitor.id)) >= MAX_PENDING_PER_VISITOR:
            raise Invalid(field="callbacks", reason="too_many", max=MAX_PENDING_PER_VISITOR)
        if request.slot is not None:
            slots.check_slot(
                schedule, request.slot, now=moment, taken=store.places_taken(tx.conn, site.id, request.slot)
            )
            if not store.take_place(tx.conn, site.id, request.slot, schedule.capacity):
                raise Invalid(field="slot", reason="full")
        conversation = conversation_store.latest_conversation(tx.conn, visitor.id)
        callback = store.insert_callback(
            tx.conn, id=uuid.uuid4().hex, site_id=site.id, visitor_id=visitor.id, client_id=request.client_id,
            conversation_id=conversation.id if conversation else None, phone=request.phone, name=request.name,
            note=request.note, language=request.language, visitor_tz=request.visitor_tz, slot_start=request.slot,
            due_at=request.slot or moment, status="requested",
        )
        if not visitor.phone or (request.name and not visitor.name):
            # What the visitor told us joins what the console shows of them (as identify does).
            visitor_store.update_visitor(
                tx.conn, visitor.id, phone=visitor.phone or request.phone, name=visitor.name or request.name
            )
            for summary in conversation_store.list_summaries_for_visitor(tx.conn, visitor.id):
                tx.append_event(events.CONVERSATION_UPDATED, {"conversation": summary}, site_id=site.id,
                                conversation_id=summary["id"])
        store.queue_reminder(tx.conn, callback.id, callback.due_at)
        join_lead(tx, callback)
        assignee = callback_assignment.default_assignee(tx.conn, callback)  # after join: the merged lead's owner
        if assignee is not None:
            callback = store.update_callback(tx.conn, callback.id, assignee_id=assignee) or callback
        tx.append_event(events.CALLBACK_REQUESTED, {"callback": callback.public()}, site_id=site.id,
                        conversation_id=callback.conversation_id)
        return callback, True

    try:
        return await writer.run(job)
    except IntegrityError:
        # The same client id committed meanwhile by another node: that one is the callback.
        return await writer.run(job)


def join_lead(tx: Tx, callback: Callback) -> None:
    """The callback's visitor joins (or becomes) a lead with the number and name given;
    the callback hangs off the visitor, so the lead card reaches it through them."""
    leads.join(tx, callback.site_id, callback.visitor_id, name=callback.name, email=None, phone=callback.phone)


def verified_identity(site: Site, data: dict[str, Any]) -> str | None:
    """The visitor's user id when the request proves it (``user_id`` + ``user_hash``, the
    identify HMAC under the site's identity secret); None when it names none; a user id
    with a wrong hash is refused (``invalid`` / ``user_hash``)."""
    if data.get("user_id") in (None, "") and data.get("user_hash") in (None, ""):
        return None
    return leads.verified_user(site, data.get("user_id"), data.get("user_hash"))


async def pending_for_visitor(
    db: Database, claim: VisitorClaim, user_id: str | None = None, site: Site | None = None
) -> list[Callback]:
    """The visitor's open callbacks; with a verified user id also those the same user asked
    for in other browsers (their leads carry the id)."""
    def read(conn: Any) -> list[Callback]:
        own = store.list_for_visitor(conn, claim.visitor_id)
        if user_id is None or site is None:
            return own
        more = [c for c in store.list_for_user(conn, site.id, user_id) if c.id not in {o.id for o in own}]
        return sorted(own + more, key=lambda c: (c.due_at, c.id))[:50]

    return await db.read(read)


async def cancel_by_visitor(
    writer: GroupWriter, site: Site, claim: VisitorClaim, callback_id: Any, user_id: str | None = None
) -> Callback:
    if not isinstance(callback_id, str) or len(callback_id) > 32:
        raise NotFound("not_found", field="callback")

    def job(tx: Tx) -> Callback:
        callback = store.get_callback(tx.conn, callback_id)
        if callback is None or callback.site_id != site.id:
            raise NotFound("not_found", field="callback")
        if callback.visitor_id != claim.visitor_id and not (
            user_id is not None and store.visitor_is_user(tx.conn, site.id, callback.visitor_id, user_id)
        ):
            raise NotFound("not_found", field="callback")
        if callback.status not in store.OPEN:
            return callback
        return _change(tx, callback, status="cancelled", operator_id=None, by="visitor")

    return await writer.run(job)


def _change(tx: Tx, callback: Callback, *, by: str, **values: Any) -> Callback:
    if callback.slot_start is not None and values.get("status") in ("cancelled", "wrong_number"):
        store.give_back_place(tx.conn, callback.site_id, callback.slot_start)
    updated = store.update_callback(tx.conn, callback.id, **values)
    assert updated is not None
    tx.append_event(
        events.CALLBACK_UPDATED, {"callback": updated.public(), "by": by}, site_id=callback.site_id,
        conversation_id=callback.conversation_id,
    )
    return updated


# ---- the operator's side


async def record_outcome(
    writer: GroupWriter, callback_id: str, operator_id: int, outcome: Any, *, retry_in_minutes: Any = None,
    retry_at: Any = None, now: datetime | None = None, site_ids: Any = None,
) -> Callback:
    """An operator called (or gave up): the attempt is recorded with who and when; "no
    answer" may set the next try in minutes or at an instant (a slot). ``site_ids``: the
    operator's sites (None: any); another site's callback is not found."""
    if outcome not in OUTCOMES:
        raise Invalid(field="outcome")
    moment = now or utcnow()
    next_due: datetime | None = None
    if outcome == "no_answer":
        if retry_in_minutes not in (None, ""):
            minutes = int(retry_in_minutes) if str(retry_in_minutes).isdigit() else -1
            if minutes not in RESCHEDULE_MINUTES:
                raise Invalid(field="retry_in_minutes")
            next_due = moment + timedelta(minutes=minutes)
        elif retry_at not in (None, ""):
            next_due = instant(str(retry_at)[:40], "retry_at")
            if next_due <= moment or next_due > moment + timedelta(days=slots.HORIZON_DAYS):
                raise Invalid(field="retry_at", reason="past" if next_due <= moment else "too_far")

    def job(tx: Tx) -> Callback:
        callback = store.get_callback(tx.conn, callback_id)
        if callback is None or (site_ids is not None and callback.site_id not in site_ids):
            raise NotFound("not_found", field="callback")
        if callback.status not in store.OPEN:
            raise Invalid(field="status", reason="closed", status=callback.status)
        store.insert_attempt(tx.conn, callback.id, operator_id, outcome)
        values: dict[str, Any] = {"status": outcome, "operator_id": operator_id}
        if callback.assignee_id is None:
            values["assignee_id"] = operator_id  # whoever calls an unassigned one owns the next try
        if next_due is not None:
            values["due_at"] = next_due
            store.queue_reminder(tx.conn, callback.id, next_due)
        return _change(tx, callback, by="operator", **values)

    return await writer.run(job)


async def update_settings(writer: GroupWriter, site: Site, **given: Any) -> Site:
    """Set a site's callback settings (``check_settings``'s names; None: unchanged)."""
    from ..store import sites as site_store

    values = check_settings(**given)

    def job(tx: Tx) -> Site:
        if values:
            site_store.update_site(tx.conn, site.id, **values)
            # Open widgets read their config again: the callback tab comes or goes at once.
            tx.append_event(events.SITE_UPDATED, {"site": {"id": site.id, "key": site.key}}, site_id=site.id)
        return site_store.get_site(tx.conn, site.id)  # type: ignore[return-value]

    return await writer.run(job)
