"""Two lead rules on a real server, at the socket (a raw websocket client, no widget):

* a verified user's second device is handed the user's visitor record and sees, and writes
  into, the same conversation as the first; a user id without a valid hash hands nothing over;
* a site whose pre-chat form is required refuses a first message until the form's fields
  are given (``prechat_required``, naming them in the visitor's language), stores nothing
  for it, and optional/off sites never block.
"""

from __future__ import annotations

from typing import Any

import websockets

from server.services import leads
from tests.clients import FrameClient, connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess
from tests.test_site_settings import form_of


async def _identify(socket: FrameClient, **data: Any) -> dict[str, Any]:
    ref = new_id()
    await socket.send({"type": "visitor.identify", "id": ref, **data})
    return await socket.recv_until(lambda f: f.get("type") == "identified" and f.get("id") == ref)


async def _say(socket: FrameClient, body: str) -> dict[str, Any]:
    ref = new_id()
    await socket.send({"type": "message.send", "id": ref, "body": body})
    return await socket.recv_until(lambda f: f.get("id") == ref and f.get("type") in ("ack", "error"))


async def test_a_verified_users_second_device_sees_and_joins_their_conversation(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)
    good = leads.user_hash(site.identity_secret, "user-42")
    laptop_session = await start_visitor(server, site.key, origin)
    laptop, _ = await connect_visitor(server, site.key, origin, laptop_session["token"])
    phone_session = await start_visitor(server, site.key, origin)
    phone, _ = await connect_visitor(server, site.key, origin, phone_session["token"])
    try:
        first = await _identify(laptop, user_id="user-42", user_hash=good, name="Maria")
        assert first["accepted"] == ["name", "user_id"] and "token" not in first  # the first device keeps its own
        ack = await _say(laptop, "Where is my order?")
        conversation_id = ack["conversation_id"]

        # Unverified: another's hash, no hash, a hash of another user. Nothing handed over.
        for bad in ({"user_hash": leads.user_hash("f" * 64, "user-42")}, {},
                    {"user_hash": leads.user_hash(site.identity_secret, "user-43")}):
            refused = await _identify(phone, user_id="user-42", **bad)
            assert refused["accepted"] == [] and list(refused["refused"]) == ["user_hash"] and "token" not in refused
        again, welcome = await connect_visitor(server, site.key, origin, phone_session["token"])
        assert welcome["conversation"] is None  # still a visitor with nothing of the user's
        await again.close()

        # Verified: the phone is handed the user's record and sees the conversation from seq 1.
        adopted = await _identify(phone, user_id="user-42", user_hash=good)
        assert adopted["accepted"] == ["user_id"] and adopted["token"] != phone_session["token"]
        await phone.close()
        phone, welcome = await connect_visitor(server, site.key, origin, adopted["token"])
        assert welcome["conversation"]["id"] == conversation_id
        replayed = await phone.recv_until(lambda f: f.get("type") == "message.created")
        assert replayed["message"]["body"] == "Where is my order?" and replayed["message"]["seq"] == 1

        # From the phone: into the same conversation, seen live on the laptop and by the operator.
        from_phone = await _say(phone, "Writing from my phone now")
        assert from_phone["type"] == "ack" and from_phone["conversation_id"] == conversation_id
        on_laptop = await laptop.recv_until(lambda f: f.get("type") == "message.created"
                                            and f["message"]["body"] == "Writing from my phone now")
        assert on_laptop["conversation_id"] == conversation_id
        to_operator = await console.recv_until(lambda f: f.get("type") == "message.created"
                                               and f["message"]["body"] == "Writing from my phone now")
        assert to_operator["conversation_id"] == conversation_id
        # The operator's answer reaches both devices.
        await console.send({"type": "message.send", "id": new_id(), "conversation_id": conversation_id,
                            "body": "It ships today"})
        for device in (laptop, phone):
            await device.recv_until(lambda f: f.get("type") == "message.created" and f["message"]["body"] == "It ships today")
        # One lead, one conversation of the user's (the phone wrote nothing before logging in).
        card = (await http.get(f"/api/console/v1/visitors/{phone_session['visitor']['id']}/lead")).json()
        assert card["lead"]["user_id"] == "user-42" and [c["id"] for c in card["conversations"]] == [conversation_id]
    finally:
        for socket in (laptop, phone, console):
            await socket.close()
        await http.aclose()


async def _raw_visitor(server: ServerProcess, site: Any, lang: str) -> tuple[FrameClient, dict[str, Any]]:
    """A websocket client that never saw the widget (or its form), speaking ``lang``."""
    session = await start_visitor(server, site.key, site.allowed_origins[0])
    ws = await websockets.connect(f"{server.ws_url}/ws/visitor?site={site.key}&lang={lang}",
                                  origin=site.allowed_origins[0], close_timeout=1)
    client = FrameClient(ws)
    await client.send({"type": "hello", "token": session["token"], "last_seq": 0})
    assert (await client.recv())["type"] == "welcome"
    return client, session


async def test_a_required_pre_chat_form_is_enforced_by_the_server(server: ServerProcess) -> None:
    site = await make_site(server, prechat="required", prechat_fields=("name", "email", "phone"), default_country="KZ")
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    socket, session = await _raw_visitor(server, site, "ru")
    try:
        refused = await _say(socket, "Hello, skipping your form")
        assert (refused["type"], refused["code"], refused["field"]) == ("error", "prechat_required", "name")
        assert refused["fields"] == ["name", "email", "phone"]
        assert refused["message"] == ("Перед первым сообщением заполните, пожалуйста, форму: "
                                      "ваше имя, ваш email и ваш номер телефона.")
        # A bad phone is refused by identify and so still missing; the good fields count.
        identified = await _identify(socket, name="Олег", email="oleg@example.com", phone="12")
        assert identified["accepted"] == ["name", "email"] and list(identified["refused"]) == ["phone"]
        still = await _say(socket, "Now?")
        assert (still["code"], still["fields"], still["message"]) == (
            "prechat_required", ["phone"], "Перед первым сообщением заполните, пожалуйста, форму: ваш номер телефона.")
        # Nothing was stored for the refused messages.
        card = (await http.get(f"/api/console/v1/visitors/{session['visitor']['id']}/lead")).json()
        assert card["conversations"] == []
        await _identify(socket, phone="8 701 123 45 67")
        sent = await _say(socket, "Now with everything")
        assert sent["type"] == "ack" and sent["seq"] == 1
        assert (await _say(socket, "And a second one"))["seq"] == 2  # a conversation: no more checks
        card = (await http.get(f"/api/console/v1/visitors/{session['visitor']['id']}/lead")).json()
        assert [c["last_message_preview"] for c in card["conversations"]] == ["And a second one"]
        assert (card["lead"]["name"], card["lead"]["phone"]) == ("Олег", "+77011234567")
    finally:
        await socket.close()
        await http.aclose()


async def test_optional_and_off_forms_never_block_a_message(server: ServerProcess) -> None:
    for mode in ("optional", "off"):
        site = await make_site(server, prechat=mode, prechat_fields=("name", "email", "phone"))
        socket, _ = await _raw_visitor(server, site, "kk")
        try:
            assert (await _say(socket, f"Hello from an {mode} site"))["type"] == "ack"
        finally:
            await socket.close()


async def test_a_form_made_required_applies_to_open_sockets_in_the_visitors_language(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    socket, _ = await _raw_visitor(admin_server, site, "kk")
    try:
        form = await form_of(http, site.key)
        saved = await http.post(f"/console/sites/{site.key}", data={**form, "prechat": "required", "prechat_fields": ["email"]})
        assert saved.status_code == 200, saved.text[-2000:]
        await socket.recv_until(lambda f: f.get("type") == "site.updated")
        refused = await _say(socket, "Сәлеметсіз бе")
        assert (refused["code"], refused["fields"]) == ("prechat_required", ["email"])
        assert refused["message"] == "Алғашқы хабарламаның алдында форманы толтырыңыз: email-іңіз."
    finally:
        await socket.close()
        await http.aclose()
