"""The site settings page: every field checked on its own and named when wrong, nothing
stored harmed; hostile values shown as text; a saved change reaches open widgets
(``site.updated`` on the visitor socket, then the new config)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from markupsafe import escape

from server.cli import opened
from server.services import callbacks, sites
from tests.clients import connect_visitor, console_login, start_visitor
from tests.factories import PASSWORD, make_operator, make_site, settings_for
from tests.servers import ServerProcess

HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


async def form_of(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    """The settings form as the browser would send it, unchanged."""
    page = await http.get(f"/console/sites/{key}")
    assert page.status_code == 200, page.text
    text = page.text
    form: dict[str, Any] = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)}  # type: ignore[union-attr]
    for name, value in re.findall(r'<input id="[^"]*" name="([^"]+)" type="(?:text|number|color)"[^>]*?value="([^"]*)"', text):
        form[name] = html.unescape(value)
    for name, value in re.findall(r'<textarea id="[^"]*" name="([^"]+)"[^>]*>([^<]*)</textarea>', text):
        form[name] = html.unescape(value)
    for name, value in re.findall(r'<select id="[^"]*" name="([^"]+)"[^>]*>.*?<option value="([^"]*)"[^>]*selected', text, re.S):
        form[name] = value
    form["tabs"] = re.findall(r'name="tabs" value="([^"]+)" checked', text)
    return form


async def test_settings_are_checked_field_by_field_and_nothing_is_harmed(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server, greeting={"": "Hello"})
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    http.headers["Accept-Language"] = "ru"
    form = await form_of(http, site.key)
    assert form["name"] == site.name and form["allowed_origins"] == site.allowed_origins[0]
    assert form["text.greeting.default"] == "Hello" and form["tabs"] == ["chat", "faq", "callback", "contact"]  # never chosen: all on
    bad = {**form, "allowed_origins": "https://ok.example.com\nhttps://shop.example.com/path", "color": "red",
           "text.greeting.ru": "Я" * 501, "offset_x": "-3", "default_country": "XX", "position": "middle", "name": ""}
    answer = await http.post(f"/console/sites/{site.key}", data=bad)
    assert answer.status_code == 400
    for field in ("allowed_origins", "color", "greeting-ru", "offset_x", "default_country", "position", "name"):
        assert f'id="fd-err-{field}"' in answer.text, field
    assert "https://shop.example.com/path" in answer.text  # the bad origin is named
    assert "не более 500 символов" in answer.text.replace("&nbsp;", " ")  # in the admin's language
    assert "#rrggbb" in answer.text
    # Nothing was stored: the widget's config is as before.
    config = (await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": admin_server.origin})).json()["site"]
    assert config["name"] == site.name and config["greetings"] == {"": "Hello"} and config["color"] == site.color
    # Without the CSRF token: refused, nothing stored.
    no_csrf = await http.post(f"/console/sites/{site.key}", data={**form, "csrf_token": "x", "name": "Changed"})
    assert no_csrf.status_code == 403
    assert (await http.get(f"/console/sites/{site.key}")).text.count("Changed") == 0
    assert (await http.get("/console/sites/fd_nosuchsite")).status_code == 404
    await http.aclose()


async def test_hostile_values_are_shown_as_text_and_reach_the_widget_live(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    origin = site.allowed_origins[0]
    visitor = await start_visitor(admin_server, site.key, origin)
    socket, _ = await connect_visitor(admin_server, site.key, origin, visitor["token"])

    form = await form_of(http, site.key)
    changed = {**form, "name": "Aurora " + HOSTILE, "color": "#FF0000", "position": "left", "offset_x": "40",
               "offset_y": "90", "language": "kk", "default_country": "kz", "text.greeting.default": HOSTILE,
               "text.greeting.uk": "Вітаємо!", "text.offline_note.ru": "Ответим за час " + HOSTILE,
               "text.placeholder.default": "Your question", "live_visitors": "on",
               "allowed_origins": f"{origin}\nhttps://*.example.com"}
    saved = await http.post(f"/console/sites/{site.key}", data=changed)
    assert saved.status_code == 200, saved.text[-2000:]
    for page in (saved.text, (await http.get(f"/console/sites/{site.key}")).text, (await http.get("/console/sites")).text):
        assert HOSTILE not in page and "<script>alert" not in page
        assert str(escape("Aurora " + HOSTILE)) in page

    # The open widget hears it and reads the new config.
    await socket.recv_until(lambda f: f["type"] == "site.updated")
    config = (await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})).json()["site"]
    assert config["name"] == "Aurora " + HOSTILE and config["color"] == "#ff0000" and config["position"] == "left"
    assert (config["offset_x"], config["offset_y"], config["language"]) == (40, 90, "kk")
    assert config["default_country"] == "KZ" and config["tabs"] == ["chat"] and config["live_visitors"] is True
    assert config["greetings"] == {"": HOSTILE, "uk": "Вітаємо!"}
    assert config["texts"] == {"offline_note": {"ru": "Ответим за час " + HOSTILE}, "placeholder": {"": "Your question"}}
    # The wildcard origin is allowed now.
    allowed = await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": "https://a.example.com"})
    assert allowed.status_code == 200
    # Chat off: the config says so.
    off = {**changed, "tabs": []}
    assert (await http.post(f"/console/sites/{site.key}", data=off)).status_code == 200
    config = (await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})).json()["site"]
    assert config["tabs"] == []
    await socket.close()
    await http.aclose()


async def test_an_admin_adds_a_site_from_the_sites_page(admin_server: ServerProcess, seq: int) -> None:
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    page = (await http.get("/console/sites")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    refused = await http.post("/console/sites", data={"csrf_token": token, "name": f"Tea {seq}",
                                                      "allowed_origins": "https://tea.example.com\nftp://tea.example.com"})
    assert refused.status_code == 400 and 'id="fd-err-allowed_origins"' in refused.text
    assert "ftp://tea.example.com" in refused.text  # kept as typed, and named in the error
    added = await http.post("/console/sites", data={"csrf_token": token, "name": f"Tea {seq} " + HOSTILE,
                                                    "allowed_origins": "https://tea.example.com"})
    assert added.status_code == 200 and HOSTILE not in added.text
    key = re.search(r'data-site-key=&#34;(fd_[\w-]+)&#34;', added.text)
    assert key, added.text[-3000:]
    config = await http.get(f"/api/widget/v1/sites/{key.group(1)}/config", headers={"Origin": "https://tea.example.com"})
    assert config.json()["site"]["name"] == f"Tea {seq} " + HOSTILE
    await http.aclose()


async def test_the_faq_tab_shows_when_switched_on_and_something_is_published(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    origin = site.allowed_origins[0]

    async def tabs() -> list[str]:
        config = await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})
        return config.json()["site"]["tabs"]  # type: ignore[no-any-return]

    form = await form_of(http, site.key)
    assert form["tabs"] == ["chat", "faq", "callback", "contact"] and await tabs() == ["chat"]  # nothing to find yet
    async with opened(settings_for(admin_server)) as state:
        await state.faq.save(site, {"lang": "en", "question": "Do you ship abroad?", "answer": "Yes."})
    assert await tabs() == ["chat", "faq"]
    assert (await http.post(f"/console/sites/{site.key}", data={**form, "tabs": ["chat"]})).status_code == 200
    assert await tabs() == ["chat"]  # the admin switched it off: articles or not
    assert (await form_of(http, site.key))["tabs"] == ["chat"]
    assert (await http.post(f"/console/sites/{site.key}", data={**form, "tabs": ["faq"]})).status_code == 200
    assert await tabs() == ["faq"]  # the FAQ alone, no chat
    await http.aclose()


async def test_callback_and_contact_tabs_need_their_feature_and_their_switch(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server, contact=True)
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    origin = site.allowed_origins[0]

    async def tabs() -> list[str]:
        config = await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})
        return config.json()["site"]["tabs"]  # type: ignore[no-any-return]

    assert await tabs() == ["chat", "contact"]  # callbacks not taken: its switch alone shows nothing
    async with opened(settings_for(admin_server)) as state:
        await callbacks.update_settings(state.writer, site, enabled=True)
    assert await tabs() == ["chat", "callback", "contact"]
    form = await form_of(http, site.key)
    assert (await http.post(f"/console/sites/{site.key}", data={**form, "tabs": ["chat", "faq"]})).status_code == 200
    assert await tabs() == ["chat"]  # both features on, both switched off
    assert (await form_of(http, site.key))["tabs"] == ["chat", "faq"]
    assert (await http.post(f"/console/sites/{site.key}", data={**form, "tabs": ["contact"]})).status_code == 200
    assert await tabs() == ["contact"]
    await http.aclose()


async def test_the_pre_chat_form_anonymised_addresses_and_the_identity_secret(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    origin = site.allowed_origins[0]
    page = (await http.get(f"/console/sites/{site.key}")).text
    assert site.identity_secret and f'value="{site.identity_secret}"' in page  # shown, read-only, not a form field
    # With the server-side code that computes user_hash, in Python, PHP and Node.
    for snippet in ("hmac.new(IDENTITY_SECRET.encode(), str(user.id).encode(), hashlib.sha256).hexdigest()",
                    "hash_hmac('sha256', (string) $user-&gt;id, IDENTITY_SECRET)",
                    "require('crypto').createHmac('sha256', IDENTITY_SECRET).update(String(user.id)).digest('hex')"):
        assert snippet in page, snippet
    form = await form_of(http, site.key)
    assert form["prechat"] == "off"
    wrong = await http.post(f"/console/sites/{site.key}", data={**form, "prechat": "required", "prechat_fields": []})
    assert wrong.status_code == 400 and 'id="fd-err-prechat_fields"' in wrong.text
    assert (await http.post(f"/console/sites/{site.key}", data={**form, "prechat": "sometimes"})).status_code == 400
    saved = await http.post(f"/console/sites/{site.key}", data={
        **form, "prechat": "required", "prechat_fields": ["phone", "name"], "anonymize_ips": "on"})
    assert saved.status_code == 200, saved.text[-2000:]
    config = (await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})).json()["site"]
    assert config["prechat"] == {"mode": "required", "fields": ["name", "phone"]}
    async with opened(settings_for(admin_server)) as state:
        stored = await sites.site_by_key(state.db, site.key)
    assert stored is not None and stored.anonymize_ips and stored.identity_secret == site.identity_secret
    await http.aclose()


async def test_callback_settings_on_the_site_settings_page(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    http.headers["Accept-Language"] = "ru"
    origin = site.allowed_origins[0]
    form = await form_of(http, site.key)
    assert (form["callback_tz"], form["callback_hours"], form["callback_slot_minutes"]) == (
        "UTC", "mon-fri=09:00-18:00", "30")
    fields = ("callback_tz", "callback_hours", "callback_days_off", "callback_slot_minutes", "callback_lead_minutes",
              "callback_capacity", "callback_countries")
    good = {"csrf_token": form["csrf_token"], "callbacks_enabled": "on", "callback_tz": "Asia/Almaty",
            "callback_hours": "mon-fri=09:00-18:00;sat=10:00-14:00", "callback_days_off": "2030-01-01, 2030-03-08",
            "callback_slot_minutes": "15", "callback_lead_minutes": "30", "callback_capacity": "2",
            "callback_countries": "kz,ru"}
    bad = {**good, "callback_tz": "Mars/Olympus", "callback_hours": "mon=18:00-09:00", "callback_days_off": "soon",
           "callback_slot_minutes": "7", "callback_lead_minutes": "-1", "callback_capacity": "0",
           "callback_countries": "XX", "callbacks_enabled": "on"}
    answer = await http.post(f"/console/sites/{site.key}/callbacks", data=bad)
    assert answer.status_code == 400
    for field in fields:
        assert f'id="fd-err-{field}"' in answer.text, field  # every mistake named at its field
    assert "Europe/Kyiv" in answer.text and "Mars/Olympus" in answer.text  # the hint, and what was typed kept
    config = await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})
    assert config.json()["site"]["tabs"] == ["chat"]  # nothing stored: still off
    saved = await http.post(f"/console/sites/{site.key}/callbacks", data=good)
    assert saved.status_code == 200 and "Настройки звонков сохранены." in saved.text
    async with opened(settings_for(admin_server)) as state:
        stored = await sites.site_by_key(state.db, site.key)
    assert stored is not None
    assert (stored.callbacks_enabled, stored.callback_tz, stored.callback_hours, stored.callback_days_off,
            stored.callback_slot_minutes, stored.callback_lead_minutes, stored.callback_capacity,
            stored.callback_countries) == (True, "Asia/Almaty", ";".join(
                [f"{d}=09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")] + ["sat=10:00-14:00"]),
                                           "2030-01-01,2030-03-08", 15, 30, 2, "KZ,RU")
    config = await http.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})
    assert "callback" in config.json()["site"]["tabs"]
    # An agent may not change them.
    agent = await make_operator(admin_server, role="agent")
    agent_http = await console_login(admin_server, agent.email, PASSWORD)
    refused = await agent_http.post(f"/console/sites/{site.key}/callbacks", data={**good, "callbacks_enabled": ""})
    assert refused.status_code == 403
    await agent_http.aclose()
    await http.aclose()
