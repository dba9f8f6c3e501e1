"""Roles and site access: an agent is refused every admin page and API (enumerated from the
app's routes, so a new admin route cannot be forgotten); an operator limited to some sites
reads and writes only those sites' conversations, leads and callbacks, over HTTP and on the
console socket."""

from __future__ import annotations

import asyncio
import re
import string
from pathlib import Path

import httpx
from starlette.routing import Route

from server.web.console.roles import ADMIN_PATHS, is_admin_path
from server.web.routes import routes
from tests.clients import connect_operator, console_login, new_id, start_visitor, visitor_says
from server.cli import opened
from server.services import callbacks
from tests.factories import PASSWORD, make_operator, make_site, settings_for
from tests.servers import ServerProcess, frontdesk


def admin_routes() -> list[tuple[str, str]]:
    """(method, path template) of every admin route the app has."""
    found = []
    for route in routes():
        if isinstance(route, Route) and is_admin_path(route.path):
            assert getattr(route.endpoint, "admin_only", False), f"{route.path} is not guarded"
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append((method, route.path))
    return found


def test_every_admin_path_has_routes_and_only_admin_paths_are_guarded() -> None:
    found = admin_routes()
    for prefix in ADMIN_PATHS:
        assert any(path == prefix or path.startswith(prefix + "/") for _, path in found), prefix
    for route in routes():
        if isinstance(route, Route) and getattr(route.endpoint, "admin_only", False):
            assert is_admin_path(route.path)


def fill(path: str, values: dict[str, str]) -> str:
    names = [name for _, name, _, _ in string.Formatter().parse(path.replace(":path", "")) if name]
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path) if names else path


async def csrf(http: httpx.AsyncClient) -> str:
    page = await http.get("/console/")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def test_an_agent_is_refused_every_admin_page_and_api(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    agent = await make_operator(admin_server, role="agent")
    admin = await make_operator(admin_server, role="admin")
    async with opened(settings_for(admin_server)) as state:
        article, _ = await state.faq.save(site, {"lang": "en", "question": "Do you ship abroad?", "answer": "Yes."})
    values = {"key": site.key, "operator_id": str(agent.id), "article_id": str(article.id)}
    agent_http = await console_login(admin_server, agent.email, PASSWORD)
    admin_http = await console_login(admin_server, admin.email, PASSWORD)
    agent_token = await csrf(agent_http)
    checked = 0
    for method, template in admin_routes():
        path = fill(template, values)
        response = await agent_http.request(
            method, path, data={"csrf_token": agent_token, "role": "admin"} if method == "POST" else None,
            headers={"Accept-Language": "ru"},
        )
        assert response.status_code == 403, (method, path, response.status_code)
        if path.startswith("/api/"):
            assert response.json()["error"]["code"] == "admin_only", path
            assert response.json()["error"]["message"] == "Это может сделать только администратор."
        else:
            assert "text/html" in response.headers["content-type"]
            assert "Только для администраторов" in response.text or "Admins only" in response.text
        if method == "GET":  # the admin gets the page (the FAQ's of the site chosen)
            query = f"?site={site.key}" if path.startswith("/console/faq") else ""
            assert (await admin_http.get(path + query)).status_code == 200, path
        checked += 1
    assert checked >= 2
    async with opened(settings_for(admin_server)) as state:  # the agent's FAQ posts changed nothing
        assert [a.published for a in await state.faq.articles(site)] == [True]
    # Nothing changed: the agent is still an agent, and works the console as before.
    assert (await agent_http.get("/console/")).status_code == 200
    assignable = await agent_http.get("/api/console/v1/operators")
    assert assignable.status_code == 200 and agent.id in {o["id"] for o in assignable.json()["operators"]}
    # Without a session: the login page, or 401 JSON.
    async with httpx.AsyncClient(base_url=admin_server.url, timeout=30) as stranger:
        for method, template in admin_routes():
            response = await stranger.request(method, fill(template, values))
            assert response.status_code in (303, 401, 403), template
    await agent_http.aclose()
    await admin_http.aclose()


async def test_an_agent_sees_no_admin_link(admin_server: ServerProcess) -> None:
    agent = await make_operator(admin_server, role="agent")
    admin = await make_operator(admin_server, role="admin")
    for operator, shown in ((agent, False), (admin, True)):
        http = await console_login(admin_server, operator.email, PASSWORD)
        page = (await http.get("/console/")).text
        for prefix in ("/console/sites", "/console/operators", "/console/faq"):
            assert (f'href="{prefix}"' in page) is shown, (operator.role, prefix)
        await http.aclose()


async def test_an_operator_limited_to_a_site_reads_and_writes_only_its_conversations(server: ServerProcess) -> None:
    mine, other = await make_site(server), await make_site(server)
    limited = await make_operator(server, role="agent", site_keys=[mine.key])
    assert limited.site_ids == frozenset({mine.id})
    everyone = await make_operator(server, role="agent")
    http = await console_login(server, limited.email, PASSWORD)
    all_http = await console_login(server, everyone.email, PASSWORD)
    console = await connect_operator(server, http)
    console_all = await connect_operator(server, all_http)

    theirs = await visitor_says(server, other.key, other.allowed_origins[0], ["Other site's secret"])
    ours = await visitor_says(server, mine.key, mine.allowed_origins[0], ["Hello from my site"])

    # Live: the console of every site hears both; the limited one only its site's.
    await console_all.recv_until(lambda f: f.get("conversation_id") == ours and f["type"] == "message.created")
    assert any(f.get("conversation_id") == theirs for f in console_all.seen)
    await console.recv_until(lambda f: f.get("conversation_id") == ours and f["type"] == "message.created")
    assert not any(theirs in str(f) or "secret" in str(f) for f in console.seen)

    # Replay from the start: the same.
    replayed = await connect_operator(server, http, after_event=0)
    await replayed.recv_until(lambda f: f.get("conversation_id") == ours and f["type"] == "message.created")
    assert not any(theirs in str(f) for f in replayed.seen)

    # HTTP: the inbox and the messages.
    listed = (await http.get("/api/console/v1/conversations")).json()["conversations"]
    assert [c["id"] for c in listed] == [ours]
    assert (await http.get(f"/api/console/v1/conversations/{theirs}/messages")).status_code == 404
    assert (await http.get(f"/api/console/v1/conversations/{ours}/messages")).status_code == 200
    assert theirs in {c["id"] for c in (await all_http.get("/api/console/v1/conversations")).json()["conversations"]}

    # Writing: a reply into the other site's conversation is refused as not found.
    await console.send({"type": "message.send", "id": new_id(), "conversation_id": theirs, "body": "Hi"})
    error = await console.recv_until(lambda f: f["type"] == "error")
    assert error["code"] == "not_found"
    await console.send({"type": "conversation.read", "conversation_id": theirs})
    assert (await console.recv_until(lambda f: f["type"] == "error"))["code"] == "not_found"
    for socket in (console, console_all, replayed):
        await socket.close()
    for client in (http, all_http):
        await client.aclose()


async def test_a_limited_operator_gets_only_its_sites_leads_callbacks_and_their_events(
    server: ServerProcess, seq: int
) -> None:
    from tests.test_callbacks import ALWAYS, book, offer

    made = []
    for name in (f"Mine {seq}", f"Elsewhere {seq}"):
        site = await make_site(server, name=name)
        async with opened(settings_for(server)) as state:
            made.append(await callbacks.update_settings(state.writer, site, enabled=True, hours=ALWAYS, lead_minutes=0))
    mine, other = made
    limited = await make_operator(server, role="agent", site_keys=[mine.key])
    http = await console_login(server, limited.email, PASSWORD)
    console = await connect_operator(server, http)
    booked, visitors = {}, {}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for site in (other, mine):  # the other site's first: had it come through, it came before
            visitor = await start_visitor(server, site.key, site.allowed_origins[0])
            visitors[site.id] = visitor["visitor"]["id"]
            if site is mine:  # its operator is on duty
                answer = await book(client, site, visitor["token"], asap=True)
            else:  # its operators may be offline (presence is per site): a time, not "as soon as possible"
                offered = await offer(client, site)
                first = next(s for d in offered["days"] for s in d["slots"])
                answer = await book(client, site, visitor["token"], slot=first["start"])
            assert answer.status_code == 201, answer.text
            booked[site.id] = answer.json()["callback"]["id"]
    await console.recv_until(lambda f: f["type"] == "callback.requested" and f["site_id"] == mine.id)
    assert {f["type"] for f in console.seen if f.get("site_id") == mine.id} >= {"lead.created", "callback.requested"}
    assert not any(f.get("site_id") == other.id or other.name in str(f) for f in console.seen)

    # Leads: the page and the card.
    leads_page = (await http.get("/console/leads")).text
    assert mine.name in leads_page and other.name not in leads_page
    assert (await http.get(f"/api/console/v1/visitors/{visitors[mine.id]}/lead")).status_code == 200
    assert (await http.get(f"/api/console/v1/visitors/{visitors[other.id]}/lead")).status_code == 404

    # Callbacks: the queue, an outcome, the .ics and the operator's feed.
    queue = (await http.get("/console/callbacks")).text
    assert f'id="cb-{booked[mine.id]}"' in queue and booked[other.id] not in queue and other.name not in queue
    token = re.search(r'name="csrf_token" value="([^"]+)"', queue).group(1)  # type: ignore[union-attr]
    refused = await http.post(f"/console/callbacks/{booked[other.id]}", data={"csrf_token": token, "outcome": "done"})
    assert refused.status_code == 303 and "error=" in refused.headers["location"]
    assert (await http.get(f"/console/callbacks/{booked[other.id]}.ics")).status_code == 404
    assert (await http.get(f"/console/callbacks/{booked[mine.id]}.ics")).status_code == 200
    made_feed = await http.post("/console/callbacks/feed", data={"csrf_token": token, "action": "new"})
    feed_url = re.search(r'<code id="fd-feed-url">([^<]+)</code>', made_feed.text).group(1)  # type: ignore[union-attr]
    async with httpx.AsyncClient() as anyone:
        feed = (await anyone.get(feed_url)).text
    assert f"callback-{booked[mine.id]}@" in feed and booked[other.id] not in feed
    # The other site's callback is untouched: still open for the operators of every site.
    admin = await make_operator(server, role="admin")
    admin_http = await console_login(server, admin.email, PASSWORD)
    assert f'id="cb-{booked[other.id]}"' in (await admin_http.get("/console/callbacks")).text
    await console.close()
    for client in (http, admin_http):
        await client.aclose()


async def test_cli_creates_agents_limited_to_sites_and_changes_them(admin_server: ServerProcess, seq: int) -> None:
    site = await make_site(admin_server)
    email = f"agent{seq}@example.com"
    done = frontdesk(admin_server, "create-operator", email, "--role", "agent", "--sites", site.key,
                     "--password", PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "role agent, 1 site(s)" in done.stdout
    unknown = frontdesk(admin_server, "set-sites", email, "fd_nosuchsite")
    assert unknown.returncode == 2 and "fd_nosuchsite" in unknown.stderr and len(unknown.stderr.splitlines()) == 1
    assert frontdesk(admin_server, "set-sites", email, "all").returncode == 0


def test_the_last_admin_cannot_be_demoted_or_deactivated(tmp_path: Path) -> None:
    from tests.conftest import served

    with served("sqlite", tmp_path) as server:
        admin = asyncio.run(make_operator(server, role="admin"))
        for args in (("set-role", admin.email, "agent"), ("deactivate-operator", admin.email)):
            refused = frontdesk(server, *args)
            assert refused.returncode == 2 and "last active admin" in refused.stderr, refused.stderr
        second = asyncio.run(make_operator(server, role="admin"))
        assert frontdesk(server, "set-role", admin.email, "agent").returncode == 0
        assert frontdesk(server, "deactivate-operator", second.email).returncode == 2


def test_admin_requests_are_rate_limited(tmp_path: Path) -> None:
    from tests.conftest import served

    async def run(server: ServerProcess) -> None:
        admin = await make_operator(server, role="admin")
        http = await console_login(server, admin.email, PASSWORD)
        codes = [(await http.get("/api/console/v1/admin/operators")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = await http.get("/api/console/v1/admin/operators")
        assert refused.json()["error"]["limit"] == "admin_requests" and "Retry-After" in refused.headers
        assert (await http.get("/console/operators")).status_code == 429
        assert (await http.get("/api/console/v1/conversations")).status_code == 200  # the inbox is not held up
        await http.aclose()

    with served("sqlite", tmp_path, FRONTDESK_ADMIN_REQUESTS_PER_MINUTE="3") as server:
        asyncio.run(run(server))
