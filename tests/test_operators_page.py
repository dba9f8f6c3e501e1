"""The Operators page: an admin adds, changes, signs out and deactivates operators; every
form carries the CSRF token; an operator's open console closes when they are deactivated."""

from __future__ import annotations

import html
import re

import httpx
from markupsafe import escape

from tests.clients import closed_for_ended_session, connect_operator, console_login
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess


async def token_of(http: httpx.AsyncClient, path: str = "/console/operators") -> str:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def can_log_in(server: ServerProcess, email: str, password: str) -> bool:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        page = await client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        answer = await client.post("/console/login", data={"email": email, "password": password, "csrf_token": token.group(1)})
        return answer.status_code == 303


async def test_an_admin_adds_an_agent_with_a_generated_password_shown_once(admin_server: ServerProcess, seq: int) -> None:
    site = await make_site(admin_server)
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    token = await token_of(http)
    hostile = '<img src=x onerror="alert(1)">Ann'
    email = f"ann{seq}@example.com"
    created = await http.post("/console/operators", data={
        "csrf_token": token, "email": email, "name": hostile, "role": "agent", "access": "some", "sites": site.key,
        "password": "",
    })
    assert created.status_code == 200
    assert hostile not in created.text and str(escape(hostile)) in created.text
    password = re.search(r'id="fd-new-password"><code>([^<]+)</code>', created.text)
    assert password and len(password.group(1)) >= 16
    assert await can_log_in(admin_server, email, html.unescape(password.group(1)))
    # Shown once: the list does not show it again.
    assert password.group(1) not in (await http.get("/console/operators")).text
    listed = (await http.get("/api/console/v1/admin/operators")).json()["operators"]
    ann = next(o for o in listed if o["email"] == email)
    assert ann["role"] == "agent" and ann["sites"] == [site.key] and ann["name"] == hostile
    await http.aclose()


async def test_add_refuses_bad_input_naming_the_field_and_needs_csrf(admin_server: ServerProcess, seq: int) -> None:
    admin = await make_operator(admin_server)
    http = await console_login(admin_server, admin.email, PASSWORD)
    http.headers["Accept-Language"] = "uk"
    token = await token_of(http)
    cases = [
        ({"email": "not an email"}, "email"),
        ({"email": f"b{seq}@example.com", "password": "short"}, "password"),
        ({"email": f"c{seq}@example.com", "role": "owner"}, "role"),
        ({"email": f"d{seq}@example.com", "access": "some", "sites": "fd_nosuch"}, "sites"),
        ({"email": f"e{seq}@example.com", "name": "x" * 201}, "name"),
    ]
    for fields, field in cases:
        answer = await http.post("/console/operators", data={"csrf_token": token, "role": "agent", **fields})
        assert answer.status_code == 400, (fields, answer.status_code)
        assert f'id="fd-err-{field}"' in answer.text, field
        assert 'aria-invalid="true"' in answer.text
    no_csrf = await http.post("/console/operators", data={"email": f"f{seq}@example.com", "password": PASSWORD, "role": "agent"})
    assert no_csrf.status_code == 403
    emails = [o["email"] for o in (await http.get("/api/console/v1/admin/operators")).json()["operators"]]
    assert not any(e.endswith(f"{seq}@example.com") and e[0] in "bcdef" for e in emails)
    await http.aclose()


async def test_deactivating_cuts_off_the_open_console_and_the_login(admin_server: ServerProcess) -> None:
    admin = await make_operator(admin_server)
    agent = await make_operator(admin_server, role="agent")
    http = await console_login(admin_server, admin.email, PASSWORD)
    agent_http = await console_login(admin_server, agent.email, PASSWORD)
    agent_console = await connect_operator(admin_server, agent_http)
    page = f"/console/operators/{agent.id}"
    token = await token_of(http, page)
    done = await http.post(page, data={"csrf_token": token, "action": "deactivate"})
    assert done.status_code == 200
    await closed_for_ended_session(agent_console)  # at once: through the hub, not the 30 s check
    assert (await agent_http.get("/api/console/v1/conversations")).status_code == 401
    assert not await can_log_in(admin_server, agent.email, PASSWORD)
    assert (await http.post(page, data={"csrf_token": token, "action": "activate"})).status_code == 200
    assert await can_log_in(admin_server, agent.email, PASSWORD)
    await http.aclose()
    await agent_http.aclose()


async def test_reset_password_role_and_sites(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    admin = await make_operator(admin_server)
    agent = await make_operator(admin_server, role="agent")
    http = await console_login(admin_server, admin.email, PASSWORD)
    page = f"/console/operators/{agent.id}"
    token = await token_of(http, page)
    reset = await http.post(page, data={"csrf_token": token, "action": "password", "password": "brand new password"})
    assert reset.status_code == 200
    assert not await can_log_in(admin_server, agent.email, PASSWORD)
    assert await can_log_in(admin_server, agent.email, "brand new password")
    saved = await http.post(page, data={"csrf_token": token, "action": "save", "role": "admin", "access": "some", "sites": site.key})
    assert saved.status_code == 200
    listed = (await http.get("/api/console/v1/admin/operators")).json()["operators"]
    changed = next(o for o in listed if o["id"] == agent.id)
    assert changed["role"] == "admin" and changed["sites"] == [site.key]
    # An admin cannot deactivate or demote themselves.
    own = f"/console/operators/{admin.id}"
    refused = await http.post(own, data={"csrf_token": token, "action": "deactivate"})
    assert refused.status_code == 400 and 'id="fd-err-active"' in refused.text
    refused = await http.post(own, data={"csrf_token": token, "action": "save", "role": "agent", "access": "all"})
    assert refused.status_code == 400 and 'id="fd-err-role"' in refused.text
    assert (await http.get("/console/operators/999999")).status_code == 404
    assert (await http.get("/console/operators/abc")).status_code == 404
    await http.aclose()
