"""Callback requests over the widget API, on both backends: booking, idempotency, the
visitor's list and cancel, errors naming the field, events, the race for a last place."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from server.cli import opened
from server.services import callbacks
from server.store.sites import Site
from tests.clients import connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.factories import PASSWORD, make_operator, make_site, settings_for
from tests.servers import ServerProcess

ALWAYS = "mon-sun=00:00-24:00"


async def callback_site(server: ServerProcess, **given: Any) -> Site:
    site = await make_site(server)
    settings: dict[str, Any] = {"enabled": True, "tz": "Asia/Almaty", "hours": ALWAYS, "lead_minutes": 0, **given}
    async with opened(settings_for(server)) as state:
        return await callbacks.update_settings(state.writer, site, **settings)


def api(site: Site, path: str = "") -> str:
    return f"/api/widget/v1/sites/{site.key}/callbacks{path}"


async def offer(client: httpx.AsyncClient, site: Site, **params: str) -> dict[str, Any]:
    response = await client.get(api(site, "/slots"), params={"tz": "Europe/Kyiv", "days": "3", **params},
                                headers={"Origin": site.allowed_origins[0]})
    assert response.status_code == 200, response.text
    return response.json()


async def book(client: httpx.AsyncClient, site: Site, token: str | None, **body: Any) -> httpx.Response:
    """What the widget posts; ``body`` overrides any member but the token."""
    payload = {"token": token, "id": new_id(), "phone": "+7 701 123 45 67", "tz": "Europe/Kyiv", **body}
    return await client.post(api(site), json=payload, headers={"Origin": site.allowed_origins[0]})


async def test_a_visitor_books_sees_and_cancels_a_slot(server: ServerProcess) -> None:
    site = await callback_site(server)
    origin = site.allowed_origins[0]
    token = (await start_visitor(server, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        found = await offer(client, site, lang="kk", countries="1")
        assert found["enabled"] and found["site_tz"] == "Asia/Almaty"
        assert found["visitor_country"] is None  # 127.0.0.1 is nowhere: the browser's locale decides
        kz = next(c for c in found["countries"] if c["code"] == "KZ")
        assert kz == {"code": "KZ", "name": "Қазақстан", "dial": "7"}
        first = found["days"][0]["slots"][0]
        assert first["site_time"] is not None  # Kyiv and Almaty differ: the site's time is noted
        day_names = " ".join(d["label"] for d in found["days"])
        assert any(name in day_names for name in ("Дүйсенбі", "Сейсенбі", "Сәрсенбі", "Бейсенбі", "Жұма", "Сенбі", "Жексенбі"))

        client_id = new_id()
        response = await book(client, site, token, id=client_id, slot=first["start"], name="Айгерим", note="Про доставку",
                              language="ru")
        assert response.status_code == 201, response.text
        booked = response.json()["callback"]
        assert booked["slot"] == first["start"] and booked["status"] == "requested"
        assert booked["when"]["time"] == first["time"]
        again = await book(client, site, token, id=client_id, slot=first["start"])  # a retry: the same callback
        assert again.status_code == 200 and again.json()["callback"]["id"] == booked["id"]

        # Capacity 1: the slot is gone from the offer, for everyone.
        assert first["start"] not in [s["start"] for d in (await offer(client, site))["days"] for s in d["slots"]]

        listed = await client.post(api(site, "/pending"), json={"token": token, "tz": "Europe/Kyiv"},
                                   headers={"Origin": origin})
        assert [c["id"] for c in listed.json()["callbacks"]] == [booked["id"]]

        other = (await start_visitor(server, site.key, origin))["token"]
        refused = await client.post(api(site, f"/{booked['id']}/cancel"), json={"token": other}, headers={"Origin": origin})
        assert refused.status_code == 404  # not theirs
        cancelled = await client.post(api(site, f"/{booked['id']}/cancel"), json={"token": token}, headers={"Origin": origin})
        assert cancelled.json()["callback"]["status"] == "cancelled"
        assert first["start"] in [s["start"] for d in (await offer(client, site))["days"] for s in d["slots"]]
        listed = await client.post(api(site, "/pending"), json={"token": token}, headers={"Origin": origin})
        assert listed.json()["callbacks"] == []


def test_the_phone_pickers_default_from_the_visitors_address() -> None:
    from server.services.geo import country_of

    assert [country_of(ip) for ip in ("2.132.0.1", "178.150.0.1", "8.8.8.8")] == ["KZ", "UA", "US"]
    assert [country_of(ip) for ip in ("127.0.0.1", "10.0.0.1", "not an address", None)] == [None] * 4


async def test_a_verified_user_sees_and_cancels_a_callback_from_another_browser(server: ServerProcess) -> None:
    from server.services import leads

    site = await callback_site(server)
    origin = site.allowed_origins[0]
    laptop, phone = [(await start_visitor(server, site.key, origin))["token"] for _ in range(2)]
    proof = {"user_id": "user-7", "user_hash": leads.user_hash(site.identity_secret, "user-7")}
    for token in (laptop, phone):  # the site vouches for its logged-in user in both browsers
        visitor, _ = await connect_visitor(server, site.key, origin, token)
        await visitor.send({"type": "visitor.identify", "id": new_id(), **proof})
        answer = await visitor.recv_until(lambda f: f["type"] in ("identified", "error"))
        assert answer.get("accepted") == ["user_id"], answer
        await visitor.close()

    async def listed(token: str, **given: str) -> httpx.Response:
        return await client.post(api(site, "/pending"), json={"token": token, **given}, headers={"Origin": origin})

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        callback_id = (await book(client, site, laptop, slot=slot)).json()["callback"]["id"]
        assert (await listed(phone)).json()["callbacks"] == []  # another browser, no proof: nothing
        assert [c["id"] for c in (await listed(phone, **proof)).json()["callbacks"]] == [callback_id]
        forged = await listed(phone, user_id="user-7", user_hash=leads.user_hash(site.identity_secret, "user-8"))
        assert (forged.status_code, forged.json()["error"]["field"]) == (400, "user_hash")
        other_user = {"user_id": "user-8", "user_hash": leads.user_hash(site.identity_secret, "user-8")}
        assert (await listed(phone, **other_user)).json()["callbacks"] == []  # a real but different user
        path = api(site, f"/{callback_id}/cancel")
        refused = await client.post(path, json={"token": phone, **other_user}, headers={"Origin": origin})
        assert refused.status_code == 404
        cancelled = await client.post(path, json={"token": phone, **proof}, headers={"Origin": origin})
        assert cancelled.status_code == 200 and cancelled.json()["callback"]["status"] == "cancelled"
        assert (await listed(laptop)).json()["callbacks"] == []


async def test_bad_input_gets_an_error_naming_the_field(server: ServerProcess) -> None:
    site = await callback_site(
        server, hours="mon-fri=09:00-18:00", tz="Europe/Kyiv", lead_minutes=60, countries="KZ,UA",
        days_off=(datetime.now(timezone.utc) + timedelta(days=3)).date().isoformat(),
    )
    origin = site.allowed_origins[0]
    token = (await start_visitor(server, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        found = await offer(client, site, days="7")
        good = found["days"][0]["slots"][0]["start"]
        start = datetime.fromisoformat(good.replace("Z", "+00:00"))
        saturday = start + timedelta(days=(5 - start.weekday()) % 7 or 7)
        cases = {
            "past": ({"slot": "2020-01-06T07:00:00Z"}, "slot", "Это время уже прошло. Выберите другое."),
            "outside": ({"slot": (start.replace(hour=20)).isoformat()}, "slot", None),
            "closed": ({"slot": saturday.isoformat()}, "slot", "В этот день мы не звоним. Выберите другой день."),
            "short_kz": ({"slot": good, "phone": "8 701 123", "country": "KZ"}, "phone",
                         "Этот номер слишком короткий для страны Казахстан."),
            "nonsense": ({"slot": good, "phone": "call me maybe"}, "phone", None),
            "refused": ({"slot": good, "phone": "+1 415 555 2671"}, "phone",
                        "Мы не звоним на номера страны Соединенные Штаты. Укажите номер другой страны."),
            "note": ({"slot": good, "note": "x" * 501}, "note", None),
            "no_slot": ({}, "slot", None),
            "naive": ({"slot": "2030-01-01T10:00:00"}, "slot", None),
            "off_the_calendar": ({"slot": "0001-01-01T00:00:00+14:00"}, "slot", None),
        }
        for label, (body, field, message) in cases.items():
            response = await book(client, site, token, language="ru", **body)
            assert response.status_code in (400, 413), (label, response.text)
            error = response.json()["error"]
            assert error["field"] == field, (label, error)
            if message:
                assert error["message"] == message, (label, error)
        second = (await start_visitor(server, site.key, origin))["token"]  # the first met its rate limit
        kk = await book(client, site, second, language="kk", slot=good, phone="8 701 123", country="KZ")
        assert kk.json()["error"]["message"] == "Бұл нөмір Қазақстан үшін тым қысқа."
        # Nothing was stored by the refused requests, and the good slot is still free.
        listed = await client.post(api(site, "/pending"), json={"token": token}, headers={"Origin": origin})
        assert listed.json()["callbacks"] == []
        assert (await book(client, site, second, slot=good, phone="8 (701) 123-45-67", country="KZ")).status_code == 201
        # Another origin may not book.
        foreign = await client.post(api(site), json={"token": token}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403


async def test_wrong_types_tokens_and_limits(server: ServerProcess) -> None:
    site = await callback_site(server)
    origin = site.allowed_origins[0]
    token = (await start_visitor(server, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        for body, status, field in (
            ({"phone": 77011234567}, 400, "phone"),
            ({"slot": 12345}, 400, "slot"),
            ({"id": "x"}, 400, "id"),
            ({"name": ["a"]}, 400, "name"),
            ({"token": "forged"}, 401, None),
            ({"token": None}, 401, None),
        ):
            given = {"slot": slot, **body}
            response = await book(client, site, given.pop("token", token), **given)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"].get("field") == field, (body, response.text)
        for params, field in (({"days": "99"}, "days"), ({"from": "yesterday"}, "from"), ({"from": "2001-01-01"}, "from")):
            response = await client.get(api(site, "/slots"), params=params, headers={"Origin": origin})
            assert response.status_code == 400 and response.json()["error"]["field"] == field
        odd = await client.get(api(site, "/slots"), params={"tz": "Mars/Olympus"}, headers={"Origin": origin})
        assert odd.json()["tz"] == "UTC"  # an unknown browser zone: shown in UTC, not refused
        gone = await client.post(api(site, "/" + "9" * 32 + "/cancel"), json={"token": token}, headers={"Origin": origin})
        assert gone.status_code == 404
        fresh = (await start_visitor(server, site.key, origin))["token"]
        answers = [await book(client, site, fresh, slot="2001-01-01T00:00:00Z") for _ in range(11)]
        assert answers[-1].status_code == 429 and answers[-1].headers["retry-after"]
        assert answers[-1].json()["error"]["limit"] == "callback_requests"


async def test_off_by_default_and_then_refused(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    token = (await start_visitor(server, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        config = await client.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})
        assert config.json()["site"]["tabs"] == ["chat"]
        assert (await offer(client, site))["enabled"] is False
        response = await book(client, site, token, slot="2030-01-01T10:00:00Z")
        assert response.json()["error"]["field"] == "callbacks"
    on = await callback_site(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        config = await client.get(f"/api/widget/v1/sites/{on.key}/config", headers={"Origin": on.allowed_origins[0]})
        assert config.json()["site"]["tabs"] == ["chat", "callback"]


async def test_events_and_a_reminder_reach_the_console_once(server: ServerProcess) -> None:
    site = await callback_site(server)
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)  # someone is on duty: "as soon as possible" is offered
    origin = site.allowed_origins[0]
    token = (await start_visitor(server, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        assert (await offer(client, site))["asap"] is True
        response = await book(client, site, token, asap=True)
        assert response.status_code == 201, response.text
    callback_id = response.json()["callback"]["id"]
    requested = await console.recv_until(lambda f: f["type"] == "callback.requested")
    assert requested["callback"]["id"] == callback_id and requested["callback"]["phone"] == "+77011234567"
    due = await console.recv_until(lambda f: f["type"] == "callback.due")
    assert due["callback"]["id"] == callback_id
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        cancelled = await client.post(api(site, f"/{callback_id}/cancel"), json={"token": token}, headers={"Origin": origin})
    assert cancelled.status_code == 200
    updated = await console.recv_until(lambda f: f["type"] == "callback.updated")
    assert updated["callback"]["status"] == "cancelled" and updated["by"] == "visitor"
    assert [f["type"] for f in console.seen].count("callback.due") == 1
    await console.close()
    await http.aclose()


async def race(servers: list[ServerProcess], site: Site, slot: str, visitors: int) -> list[httpx.Response]:
    """``visitors`` visitors ask for the same slot at once, spread over the servers."""
    origin = site.allowed_origins[0]
    tokens = await asyncio.gather(*(
        start_visitor(servers[i % len(servers)], site.key, origin) for i in range(visitors)
    ))
    clients = [httpx.AsyncClient(base_url=s.url, timeout=30) for s in servers]
    try:
        return list(await asyncio.gather(*(
            book(clients[i % len(clients)], site, t["token"], slot=slot) for i, t in enumerate(tokens)
        )))
    finally:
        for c in clients:
            await c.aclose()


async def stored_for_slot(server: ServerProcess, site: Site, slot: str) -> tuple[int, int]:
    """(callbacks stored for the slot, places counted taken) as the database has them."""
    from sqlalchemy import func, select

    from server.store.schema import callback_slots
    from server.store.schema import callbacks as table

    start = datetime.fromisoformat(slot.replace("Z", "+00:00"))
    async with opened(settings_for(server)) as state:
        return await state.db.read(lambda conn: (
            conn.execute(select(func.count()).select_from(table).where(
                (table.c.site_id == site.id) & (table.c.slot_start == start))).scalar_one(),
            conn.execute(select(callback_slots.c.taken).where(
                (callback_slots.c.site_id == site.id) & (callback_slots.c.slot_start == start))).scalar_one(),
        ))


def one_winner(responses: list[httpx.Response], slot: str) -> None:
    won = [r for r in responses if r.status_code == 201]
    assert len(won) == 1, [r.text for r in responses if r.status_code != 400]
    for lost in responses:
        if lost is won[0]:
            continue
        error = lost.json()["error"]
        assert (error["field"], lost.status_code) == ("slot", 400), error
        assert error["next_slots"] and slot not in [s["start"] for s in error["next_slots"]]


async def test_a_double_click_sent_at_once_makes_one_callback(server: ServerProcess) -> None:
    site = await callback_site(server, capacity=5)
    origin = site.allowed_origins[0]
    token = (await start_visitor(server, site.key, origin))["token"]
    client_id = new_id()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        answers = await asyncio.gather(*(book(client, site, token, id=client_id, slot=slot) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["callback"]["id"] for a in answers}) == 1
    assert await stored_for_slot(server, site, slot) == (1, 1)  # one callback, one place taken


async def test_many_visitors_race_for_the_last_place(server: ServerProcess) -> None:
    site = await callback_site(server, capacity=2)
    origin = site.allowed_origins[0]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        token = (await start_visitor(server, site.key, origin))["token"]
        assert (await book(client, site, token, slot=slot)).status_code == 201  # one of two places taken
    one_winner(await race([server], site, slot, 30), slot)
    assert await stored_for_slot(server, site, slot) == (2, 2)


def test_site_settings_from_the_command_line(
    sqlite_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli import main

    with monkeypatch.context() as patched:
        for name, value in sqlite_server.env.items():
            patched.setenv(name, value)
        assert main([
            "create-site", "Callback Coffee", "--origin", "https://callback.example", "--allow-duplicate-name",
            "--callbacks", "--callback-tz", "Asia/Almaty", "--callback-hours", "mon-fri=09:00-13:00,14:00-18:00",
            "--callback-capacity", "3", "--default-country", "kz",
        ]) == 0
        key = capsys.readouterr().out.split("key: ")[1].split()[0]
        assert main(["set-callbacks", key, "--callback-days-off", "2026-12-16,2026-12-17", "--callback-slot-minutes", "15"]) == 0
        said = capsys.readouterr().out
        assert "callbacks on" in said and "mon=09:00-13:00,14:00-18:00" in said and "(Asia/Almaty)" in said
        assert "slots of 15 min, 3 per slot" in said and "2026-12-16,2026-12-17" in said
        with pytest.raises(SystemExit):
            main(["set-callbacks", key, "--callback-tz", "Mars/Olympus"])
        assert "(callback_tz)" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main(["set-callbacks", key, "--callback-hours", "mon=18:00-09:00"])
        assert "(callback_hours)" in capsys.readouterr().err
