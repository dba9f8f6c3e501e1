"""The slot engine: business hours in the site's zone, DST, visitors far away, days off,
capacity and lead time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from server.errors import Invalid
from server.services import slots
from server.services.slots import Schedule, parse_hours

UTC = timezone.utc
KYIV = ZoneInfo("Europe/Kyiv")
NEW_YORK = ZoneInfo("America/New_York")


def schedule(tz: str = "Europe/Kyiv", hours: str = "mon-fri=09:00-18:00", **kwargs: object) -> Schedule:
    return Schedule(tz=tz, hours=parse_hours(hours), **kwargs)  # type: ignore[arg-type]


def local_times(found: list[slots.Slot], tz: ZoneInfo) -> list[str]:
    return [s.start.astimezone(tz).strftime("%a %H:%M") for s in found]


LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def eve(day: date) -> datetime:
    """Two days before ``day``: its slots are past the lead time and inside the horizon."""
    return datetime.combine(day - timedelta(days=2), datetime.min.time(), UTC)


def test_parse_hours_reads_ranges_and_refuses_nonsense() -> None:
    week = parse_hours("mon-fri=09:00-13:00,14:00-18:00;sat=10:00-14:00;sun=20:00-24:00")
    assert week[0] == ((540, 780), (840, 1080))
    assert week[5] == ((600, 840),)
    assert week[6] == ((1200, 1440),)
    assert slots.format_hours(week).startswith("mon=09:00-13:00,14:00-18:00;tue=")
    for bad in ("mon=18:00-09:00", "funday=09:00-10:00", "mon=09:00-25:00", "mon 09-18", "mon=09:00-12:00,11:00-13:00"):
        with pytest.raises(Invalid) as caught:
            parse_hours(bad)
        assert caught.value.field == "hours"


def test_kyiv_spring_forward_keeps_wall_clock_hours_and_loses_the_missing_hour() -> None:
    # 29 March 2026, 03:00 EET -> 04:00 EEST.
    s = schedule(hours="mon-sat=09:00-11:00;sun=00:00-06:00")
    friday = slots.slots(s, date(2026, 3, 27), date(2026, 3, 27), now=eve(date(2026, 3, 27)))
    monday = slots.slots(s, date(2026, 3, 30), date(2026, 3, 30), now=eve(date(2026, 3, 30)))
    assert friday[0].start == datetime(2026, 3, 27, 7, 0, tzinfo=UTC)  # 09:00 at UTC+2
    assert monday[0].start == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 09:00 at UTC+3
    night = slots.slots(s, date(2026, 3, 29), date(2026, 3, 29), now=eve(date(2026, 3, 29)))
    assert len(night) == 10  # 00:00-06:00 is five hours long that night
    assert "Sun 03:00" not in local_times(night, KYIV)  # a wall time that never happened
    assert local_times(night, KYIV)[:6] == ["Sun 00:00", "Sun 00:30", "Sun 01:00", "Sun 01:30", "Sun 02:00", "Sun 02:30"]
    assert local_times(night, KYIV)[6] == "Sun 04:00"
    starts = [x.start for x in night]
    assert all(b - a == timedelta(minutes=30) for a, b in zip(starts, starts[1:]))


def test_kyiv_fall_back_has_the_repeated_hour_twice_as_distinct_instants() -> None:
    # 25 October 2026, 04:00 EEST -> 03:00 EET.
    s = schedule(hours="sun=00:00-06:00;mon=09:00-10:00;sat=09:00-10:00")
    night = slots.slots(s, date(2026, 10, 25), date(2026, 10, 25), now=eve(date(2026, 10, 25)))
    assert len(night) == 14  # seven hours that night
    assert len({x.start for x in night}) == 14
    assert local_times(night, KYIV).count("Sun 03:00") == 2
    sat = slots.slots(s, date(2026, 10, 24), date(2026, 10, 24), now=eve(date(2026, 10, 24)))
    mon = slots.slots(s, date(2026, 10, 26), date(2026, 10, 26), now=eve(date(2026, 10, 26)))
    assert sat[0].start.hour == 6 and mon[0].start.hour == 7  # 09:00 at UTC+3, then at UTC+2


def test_new_york_dst_and_visitors_far_away() -> None:
    # 8 March 2026: New York springs forward; Almaty (UTC+5), Los Angeles, Kolkata (UTC+5:30).
    s = schedule(tz="America/New_York", hours="mon-fri=09:00-17:00", slot_minutes=60)
    before = slots.slots(s, date(2026, 3, 6), date(2026, 3, 6), now=eve(date(2026, 3, 6)))
    after = slots.slots(s, date(2026, 3, 9), date(2026, 3, 9), now=eve(date(2026, 3, 9)))
    assert before[0].start == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    assert after[0].start == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert len(before) == len(after) == 8
    almaty = ZoneInfo("Asia/Almaty")
    assert after[0].start.astimezone(almaty).strftime("%a %H:%M") == "Mon 18:00"
    assert after[-1].start.astimezone(almaty).strftime("%a %H:%M") == "Tue 01:00"  # the next day there
    assert after[0].start.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%H:%M") == "06:00"
    assert after[0].start.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M") == "18:30"
    # The Almaty visitor's Tuesday holds the end of New York's Monday.
    tuesday = slots.visitor_slots(s, almaty, date(2026, 3, 10), date(2026, 3, 10), now=eve(date(2026, 3, 9)))
    assert tuesday[0].start == datetime(2026, 3, 9, 19, 0, tzinfo=UTC)  # Tue 00:00 in Almaty
    assert all(x.start.astimezone(almaty).date() == date(2026, 3, 10) for x in tuesday)


def test_days_off_and_closed_weekdays() -> None:
    s = schedule(days_off=frozenset({date(2026, 5, 1)}))
    assert slots.slots(s, date(2026, 5, 1), date(2026, 5, 3), now=eve(date(2026, 5, 1))) == []  # holiday, sat, sun
    assert len(slots.slots(s, date(2026, 5, 4), date(2026, 5, 4), now=eve(date(2026, 5, 4)))) == 18
    with pytest.raises(Invalid) as caught:
        slots.check_slot(s, datetime(2026, 5, 2, 7, 0, tzinfo=UTC), now=LONG_AGO.replace(month=4, day=25), taken=0)
    assert (caught.value.field, caught.value.reason) == ("slot", "closed_day")


def test_capacity_hides_full_slots_and_refuses_booking_them() -> None:
    s = schedule(capacity=2)
    now = datetime(2026, 5, 3, 12, 0, tzinfo=UTC)
    first = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)  # Monday 09:00 in Kyiv
    found = slots.slots(s, date(2026, 5, 4), date(2026, 5, 4), now=now, taken={first: 1})
    assert found[0].start == first and found[0].free == 1
    found = slots.slots(s, date(2026, 5, 4), date(2026, 5, 4), now=now, taken={first: 2})
    assert found[0].start == first + timedelta(minutes=30)
    with pytest.raises(Invalid) as caught:
        slots.check_slot(s, first, now=now, taken=2)
    assert caught.value.reason == "full"
    slots.check_slot(s, first, now=now, taken=1)


def test_lead_time_past_outside_hours_and_horizon() -> None:
    s = schedule(lead_minutes=90)
    now = datetime(2026, 5, 4, 7, 10, tzinfo=UTC)  # Monday 10:10 in Kyiv
    found = slots.slots(s, date(2026, 5, 4), date(2026, 5, 4), now=now)
    assert local_times(found, KYIV)[0] == "Mon 12:00"  # 10:10 + 90 min = 11:40 -> 12:00
    reasons = {}
    for label, start in {
        "past": datetime(2026, 5, 4, 6, 0, tzinfo=UTC),
        "too_soon": datetime(2026, 5, 4, 8, 0, tzinfo=UTC),
        "outside_hours": datetime(2026, 5, 5, 16, 0, tzinfo=UTC),  # 19:00 in Kyiv
        "unaligned": datetime(2026, 5, 5, 6, 10, tzinfo=UTC),
        "too_far": datetime(2026, 5, 25, 6, 0, tzinfo=UTC),
    }.items():
        with pytest.raises(Invalid) as caught:
            slots.check_slot(s, start, now=now, taken=0)
        reasons[label] = caught.value.reason
    assert reasons == {
        "past": "past", "too_soon": "too_soon", "outside_hours": "outside_hours", "unaligned": "outside_hours",
        "too_far": "too_far",
    }
    assert slots.slots(s, date(2026, 5, 18), date(2026, 5, 31), now=now)[-1].start <= now + timedelta(days=14)


def test_zone_names_are_checked() -> None:
    assert slots.zone("Asia/Almaty") == "Asia/Almaty"
    for bad in ("Mars/Olympus", "../etc/passwd", "", None, "x" * 100):
        with pytest.raises(Invalid):
            slots.zone(bad)


def test_open_now_follows_local_hours() -> None:
    s = schedule()
    assert slots.open_now(s, datetime(2026, 5, 4, 7, 0, tzinfo=UTC))  # Mon 10:00 Kyiv
    assert not slots.open_now(s, datetime(2026, 5, 4, 16, 0, tzinfo=UTC))  # Mon 19:00
    assert not slots.open_now(s, datetime(2026, 5, 2, 7, 0, tzinfo=UTC))  # Saturday
