"""Leads on a real server, both backends: a registered visitor's lead and journey reach the
operator live (lead.* events), the console's lead card and Leads page, and the refusals
(bad page URLs, a user id without its HMAC, too many page frames, no session)."""

from __future__ import annotations

import html
from typing import Any

import httpx

from server.services import leads
from tests.clients import FrameClient, connect_operator, connect_visitor, console_login, new_id
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


async def _register(server: ServerProcess, site: Any, *, url: str | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{server.url}/api/widget/v1/sites/{site.key}/visitors",
            json={"token": None, "language": "kk", "page": {"url": url}},
            headers={"Origin": site.allowed_origins[0], "User-Agent": IPHONE},
        )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


async def _lead_event(console: FrameClient, type: str, **match: Any) -> dict[str, Any]:
    return await console.recv_until(
        lambda f: f.get("type") == type and all(f.get("lead", {}).get(k) == v for k, v in match.items())
    )


async def test_a_visitors_journey_reaches_the_operator_live_and_the_card(server: ServerProcess) -> None:
    site = await make_site(server)
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)
    try:
        session = await _register(server, site, url="https://shop.test/?utm_source=google&utm_campaign=spring")
        created = await console.recv_until(lambda f: f.get("type") == "lead.created"
                                           and f["lead"]["utm_campaign"] == "spring")
        lead_id = created["lead"]["id"]
        assert (created["lead"]["device"], created["lead"]["os"], created["lead"]["language"]) == ("mobile", "iOS 17.5", "kk")
        visitor, _ = await connect_visitor(server, site.key, site.allowed_origins[0], session["token"])
        try:
            await visitor.send({"type": "page.viewed", "url": "https://shop.test/beans?x=<b>", "title": "<script>alert(1)</script>",
                                "referrer": "https://www.google.com/", "timezone": "Asia/Almaty"})
            updated = await _lead_event(console, "lead.updated", id=lead_id)
            assert updated["page"]["url"] == "https://shop.test/beans?x=<b>"
            assert updated["lead"]["current_title"] == "<script>alert(1)</script>"
            await visitor.send({"type": "page.viewed", "url": "javascript:alert(1)"})
            error = await visitor.recv_until(lambda f: f.get("type") == "error")
            assert (error["code"], error["field"]) == ("invalid", "url")
            await visitor.send({"type": "visitor.identify", "id": new_id(), "email": "a@example.com",
                                "user_id": "u1", "user_hash": leads.user_hash("0" * 64, "u1")})
            identified = await visitor.recv_until(lambda f: f.get("type") == "identified")
            assert identified["accepted"] == ["email"] and list(identified["refused"]) == ["user_hash"]
        finally:
            await visitor.close()
        card = (await http.get(f"/api/console/v1/visitors/{session['visitor']['id']}/lead")).json()
        assert card["lead"]["id"] == lead_id and card["lead"]["email"] == "a@example.com"
        assert card["lead"]["user_id"] is None
        assert [p["url"] for p in card["pages"]] == ["https://shop.test/beans?x=<b>"]
        assert card["lead"]["timezone"] == "Asia/Almaty" and card["lead"]["referrer"] == "https://www.google.com/"
    finally:
        await console.close()
        await http.aclose()


async def test_the_leads_page_lists_leads_newest_first_as_text(server: ServerProcess) -> None:
    site = await make_site(server)
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    try:
        older = await _register(server, site)
        newer = await _register(server, site, url="https://shop.test/?utm_source=newsletter&utm_campaign=%3Cb%3Ebold")
        for session, name in [(older, "Older Olga"), (newer, "<img src=x onerror=alert(1)>")]:
            visitor, _ = await connect_visitor(server, site.key, site.allowed_origins[0], session["token"])
            await visitor.send({"type": "visitor.identify", "id": new_id(), "name": name})
            await visitor.recv_until(lambda f: f.get("type") == "identified")
            await visitor.close()
        page = await http.get("/console/leads")
        assert page.status_code == 200
        text = page.text
        assert "<img src=x" not in text and html.escape("<img src=x onerror=alert(1)>", quote=False) in text
        assert "&lt;b&gt;bold" in text and "newsletter" in text
        assert text.index("onerror") < text.index("Older Olga")  # the newest activity first
    finally:
        await http.aclose()


async def test_the_lead_card_needs_a_session_and_a_known_visitor(sqlite_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as anonymous:
        assert (await anonymous.get("/api/console/v1/visitors/x/lead")).status_code == 401
        assert (await anonymous.get("/console/leads", follow_redirects=False)).status_code == 303
    operator = await make_operator(sqlite_server)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    try:
        missing = await http.get("/api/console/v1/visitors/" + "f" * 32 + "/lead")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    finally:
        await http.aclose()


async def test_page_frames_are_rate_limited(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    session = await _register(sqlite_server, site)
    visitor, _ = await connect_visitor(sqlite_server, site.key, site.allowed_origins[0], session["token"])
    try:
        for i in range(31):  # FRONTDESK_VISITOR_PAGES_PER_MINUTE: 30
            await visitor.send({"type": "page.viewed", "url": f"https://shop.test/{i}"})
        error = await visitor.recv_until(lambda f: f.get("type") == "error")
        assert error["code"] == "rate_limited"
    finally:
        await visitor.close()
