"""Leads in the store, on both backends: a visitor's lead, its visits and pages, and the
merge rules (same verified user, email or phone on one site → one lead; never across sites;
nothing lost; recorded as an event)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Iterator

import pytest
from sqlalchemy import select

from server.security import Signer, VisitorClaim
from server.services import events, leads, sites, visitors
from server.services.geo import Geolocator
from server.store import migrate
from server.store.db import Database
from server.store.outbox import StoredEvent
from server.store.schema import leads as leads_table
from server.store.writer import GroupWriter
from tests.conftest import BACKENDS, Backend

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


class World:
    def __init__(self, db: Database, writer: GroupWriter, published: list[StoredEvent]) -> None:
        self.db, self.writer, self.published = db, writer, published
        self.signer = Signer("test-key", visitor_token_days=1)
        self.geo = Geolocator()

    async def site(self, name: str, **kwargs: Any) -> Any:
        return await sites.create_site(self.writer, name, ["https://shop.test"], allow_duplicate_name=True, **kwargs)

    async def visitor(self, site: Any, *, ip: str = "2.132.0.1", ua: str = CHROME, url: str | None = None) -> Any:
        return await visitors.start_session(self.writer, self.signer, site, None, language="ru", page_url=url,
                                            ip=ip, user_agent=ua, geo=self.geo)

    async def identify(self, site: Any, session: Any, **data: Any) -> visitors.Identified:
        return await visitors.identify(self.writer, VisitorClaim(session.visitor.id, site.id), data, site=site)

    async def card(self, session: Any) -> dict[str, Any]:
        card = await leads.lead_card(self.db, session.visitor.id)
        assert card is not None
        return card

    def events(self, type: str) -> list[dict[str, Any]]:
        return [e.payload for e in self.published if e.type == type]


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per backend for the module (tests make their own sites)."""
    backend = Backend(request.param, tmp_path_factory.mktemp("leads"))  # a scratch PostgreSQL database

    async def upgrade() -> None:
        db = Database(backend.url)
        await migrate.upgrade(db)
        await db.close()

    asyncio.run(upgrade())
    yield backend.url
    backend.close()


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db = Database(database_url)
    published: list[StoredEvent] = []

    async def on_commit(batch: list[StoredEvent]) -> None:
        published.extend(batch)

    writer = GroupWriter(db, on_commit=on_commit)
    writer.start()
    try:
        world = World(db, writer, published)
        yield world
    finally:
        world.signer.close()
        await writer.stop()
        await db.close()


async def test_a_registered_visitor_becomes_a_lead_with_what_the_browser_told(world: World) -> None:
    site = await world.site("Aurora")
    session = await world.visitor(site, url="https://shop.test/?utm_source=google&utm_campaign=spring")
    card = await world.card(session)
    lead = card["lead"]
    assert (lead["country"], lead["browser"], lead["os"], lead["device"], lead["language"]) == (
        "KZ", "Chrome 131", "Windows 10", "desktop", "ru")
    assert (lead["utm_source"], lead["utm_campaign"], lead["visits"]) == ("google", "spring", 1)
    assert card["addresses"][0]["ip"] == "2.132.0.1" and card["addresses"][0]["country"] == "KZ"
    assert world.events(events.LEAD_CREATED)[0]["lead"]["id"] == lead["id"]


async def test_a_site_that_anonymises_stores_no_full_address(world: World) -> None:
    site = await world.site("Private", anonymize_ips=True)
    card = await world.card(await world.visitor(site, ip="178.150.0.1"))
    assert (card["lead"]["ip"], card["lead"]["country"]) == ("178.150.0.0", "UA")
    assert [a["ip"] for a in card["addresses"]] == ["178.150.0.0"]
    stored = await world.db.read(lambda c: c.execute(select(leads_table.c.ip)).scalars().all())
    assert "178.150.0.1" not in stored


async def test_pages_are_the_journey_and_the_landing_page_keeps_the_campaign(world: World) -> None:
    site = await world.site("Journey")
    session = await world.visitor(site)
    for url, title in [("https://shop.test/?utm_source=fb&utm_campaign=autumn", "Home"),
                       ("https://shop.test/beans", "<img src=x onerror=alert(1)>")]:
        page = leads.check_page({"url": url, "title": title, "referrer": "https://www.google.com/",
                                 "timezone": "Asia/Almaty"})
        await leads.queue_page_view(world.writer, site.id, session.visitor.id, page)
    card = await world.card(session)
    assert [p["url"] for p in card["pages"]] == ["https://shop.test/?utm_source=fb&utm_campaign=autumn",
                                                 "https://shop.test/beans"]
    lead = card["lead"]
    assert (lead["current_title"], lead["utm_campaign"], lead["referrer"], lead["timezone"]) == (
        "<img src=x onerror=alert(1)>", "autumn", "https://www.google.com/", "Asia/Almaty")
    assert world.events(events.LEAD_UPDATED)[-1]["page"]["url"] == "https://shop.test/beans"


async def test_the_same_email_on_one_site_merges_two_visitors_into_one_lead(world: World) -> None:
    site = await world.site("Merge")
    first, second = await world.visitor(site), await world.visitor(site, ip="5.255.255.5", ua=IPHONE)
    await world.identify(site, first, name="Maria", phone="+7 701 123 45 67")
    result = await world.identify(site, second, email="Maria@Example.com", name="Мария")
    assert result.accepted == ("name", "email")
    await world.identify(site, first, email="maria@example.com")
    one, two = await world.card(first), await world.card(second)
    assert one["lead"]["id"] == two["lead"]["id"]
    assert sorted(one["visitor_ids"]) == sorted([first.visitor.id, second.visitor.id])
    assert {a["country"] for a in one["addresses"]} == {"KZ", "RU"}
    lead = one["lead"]
    # The older lead survives with its own name; the newer one's values fill only the blanks.
    assert (lead["name"], lead["phone"], lead["email"], lead["visits"]) == ("Maria", "+77011234567", "maria@example.com", 2)
    merged = world.events(events.LEAD_MERGED)
    assert len(merged) == 1 and merged[0]["merged"]["merged_into"] == lead["id"]
    assert merged[0]["merged"]["name"] == "Мария"  # the absorbed lead keeps what it had: nothing lost


async def test_the_same_phone_merges_too(world: World) -> None:
    site = await world.site("Phones", default_country="KZ")
    first, second = await world.visitor(site), await world.visitor(site)
    await world.identify(site, first, phone="+77011234567")
    await world.identify(site, second, phone="+7 701 123-45-67")
    assert (await world.card(first))["lead"]["id"] == (await world.card(second))["lead"]["id"]


async def test_a_verified_user_is_one_lead_on_every_device_and_a_bad_hash_changes_nothing(world: World) -> None:
    site = await world.site("Verified")
    laptop, phone, stranger = await world.visitor(site), await world.visitor(site, ua=IPHONE), await world.visitor(site)
    good = leads.user_hash(site.identity_secret, "user-7")
    await world.identify(site, laptop, user_id="user-7", user_hash=good)
    refused = await world.identify(site, stranger, user_id="user-7", user_hash=leads.user_hash("x" * 64, "user-7"))
    assert "user_hash" in refused.refused and refused.accepted == ()
    await world.identify(site, phone, user_id="user-7", user_hash=good)
    assert (await world.card(laptop))["lead"]["id"] == (await world.card(phone))["lead"]["id"]
    stranger_lead = (await world.card(stranger))["lead"]
    assert stranger_lead["user_id"] is None and stranger_lead["id"] != (await world.card(laptop))["lead"]["id"]


async def test_merging_never_crosses_sites(world: World) -> None:
    a, b = await world.site("Site A"), await world.site("Site B")
    on_a, on_b = await world.visitor(a), await world.visitor(b)
    await world.identify(a, on_a, email="same@example.com")
    await world.identify(b, on_b, email="same@example.com")
    assert (await world.card(on_a))["lead"]["id"] != (await world.card(on_b))["lead"]["id"]
    assert world.events(events.LEAD_MERGED) == []


async def test_a_merge_keeps_every_conversation(world: World) -> None:
    from server.services import chat

    site = await world.site("Conversations")
    first, second = await world.visitor(site), await world.visitor(site)
    for session, text in [(first, "from the laptop"), (second, "from the phone")]:
        ack = await chat.queue_visitor_message(world.writer, site.id, session.visitor.id, "c" * 8 + text[-5:],
                                               text, visitor_name=None)
        assert ack.conversation_id
    await world.identify(site, first, email="bob@example.com")
    await world.identify(site, second, email="bob@example.com")
    card = await world.card(second)
    assert {c["last_message_preview"] for c in card["conversations"]} == {"from the laptop", "from the phone"}


async def test_a_merge_keeps_the_pipeline_tags_and_notes(world: World) -> None:
    import uuid

    from server.services import lead_pipeline, operators

    site = await world.site("Pipeline merge")
    anna = await operators.create_operator(world.writer, world.signer, f"anna-{uuid.uuid4().hex[:8]}@example.com",
                                           "correct horse battery", name="Anna")
    older, newer = await world.visitor(site), await world.visitor(site)
    old_lead, new_lead = (await world.card(older))["lead"]["id"], (await world.card(newer))["lead"]["id"]
    await lead_pipeline.add_tag(world.writer, anna, old_lead, "vip")
    await lead_pipeline.add_note(world.writer, anna, old_lead, "Met at the fair")
    # The newer lead has been worked: status, reason, owner, tags (one the older has too), a note.
    await lead_pipeline.set_status(world.writer, anna, new_lead, "lost", "Too expensive")
    await lead_pipeline.set_owner(world.writer, anna, new_lead, anna.id)
    for tag in ("vip", "wholesale"):
        await lead_pipeline.add_tag(world.writer, anna, new_lead, tag)
    await lead_pipeline.add_note(world.writer, anna, new_lead, "Asked for a discount")

    await world.identify(site, older, email="pat@example.com")
    await world.identify(site, newer, email="pat@example.com")
    # The survivor (the older lead, still new) takes the worked pipeline, every tag once, both notes.
    view = await lead_pipeline.lead_view(world.db, anna, new_lead)  # the absorbed id leads to the survivor
    assert view["lead"]["id"] == old_lead
    assert (view["pipeline"]["status"], view["pipeline"]["lost_reason"]) == ("lost", "Too expensive")
    assert view["pipeline"]["owner"] == {"id": anna.id, "name": "Anna"}
    assert view["pipeline"]["tags"] == ["vip", "wholesale"]
    assert [n["body"] for n in view["notes"]] == ["Met at the fair", "Asked for a discount"]
async def test_a_verified_users_second_device_adopts_the_users_record_and_no_one_else_does(world: World) -> None:
    """The first device verified as a user makes its record the user's; the second device is
    handed that record (so it shows the same conversation); a wrong or missing hash, or a
    user id alone, hands nothing over and changes nothing."""
    from server.services import chat

    site = await world.site("Devices")
    laptop, phone, stranger = await world.visitor(site), await world.visitor(site, ua=IPHONE), await world.visitor(site)
    good = leads.user_hash(site.identity_secret, "user-8")
    first = await world.identify(site, laptop, user_id="user-8", user_hash=good, name="Maria")
    assert (first.switched, first.visitor.id, first.visitor.user_id) == (False, laptop.visitor.id, "user-8")
    await chat.queue_visitor_message(world.writer, site.id, laptop.visitor.id, "m-laptop-1", "from the laptop")
    # The phone wrote something before the site knew who it was: that stays its own.
    await chat.queue_visitor_message(world.writer, site.id, phone.visitor.id, "m-phone-anon", "before logging in")

    for bad in ({"user_id": "user-8", "user_hash": leads.user_hash("y" * 64, "user-8")},
                {"user_id": "user-8", "user_hash": good.upper()[:-1]},
                {"user_id": "user-8"}):
        refused = await world.identify(site, stranger, **bad)
        assert not refused.switched and refused.visitor.id == stranger.visitor.id and refused.accepted == ()
        assert "user_hash" in refused.refused
    stranger_card = await world.card(stranger)
    assert stranger_card["lead"]["user_id"] is None and stranger_card["conversations"] == []

    second = await world.identify(site, phone, user_id="user-8", user_hash=good, email="maria@example.com")
    assert second.switched and second.visitor.id == laptop.visitor.id
    assert second.visitor.email == "maria@example.com" and second.visitor.name == "Maria"
    # One lead with both conversations (the phone's anonymous one included).
    card = await world.card(laptop)
    assert card["lead"]["id"] == (await world.card(phone))["lead"]["id"]
    assert {c["last_message_preview"] for c in card["conversations"]} == {"from the laptop", "before logging in"}
    # The laptop verifying again is nothing new.
    again = await world.identify(site, laptop, user_id="user-8", user_hash=good)
    assert not again.switched and again.visitor.id == laptop.visitor.id


async def test_another_user_on_the_same_browser_gets_a_record_of_their_own(world: World) -> None:
    """A shared computer: the browser's record is user A's; user B logs in there. B gets a
    fresh record and lead (nothing of A's shown or merged), and A logging in again gets A's."""
    from server.services import chat

    site = await world.site("Shared computer")
    browser = await world.visitor(site)
    hash_a, hash_b = leads.user_hash(site.identity_secret, "a"), leads.user_hash(site.identity_secret, "b")
    await world.identify(site, browser, user_id="a", user_hash=hash_a, email="a@example.com")
    await chat.queue_visitor_message(world.writer, site.id, browser.visitor.id, "m-a", "A's secret question")
    as_b = await world.identify(site, browser, user_id="b", user_hash=hash_b, email="b@example.com")
    assert as_b.switched and as_b.visitor.id != browser.visitor.id and as_b.visitor.user_id == "b"
    b_card = await leads.lead_card(world.db, as_b.visitor.id)
    assert b_card is not None and b_card["conversations"] == []
    assert (b_card["lead"]["user_id"], b_card["lead"]["email"], b_card["lead"]["country"]) == ("b", "b@example.com", "KZ")
    a_card = await world.card(browser)
    assert (a_card["lead"]["user_id"], a_card["lead"]["email"]) == ("a", "a@example.com")
    assert a_card["lead"]["id"] != b_card["lead"]["id"]
    back = await visitors.identify(world.writer, VisitorClaim(as_b.visitor.id, site.id),
                                   {"user_id": "a", "user_hash": hash_a}, site=site)
    assert back.switched and back.visitor.id == browser.visitor.id
