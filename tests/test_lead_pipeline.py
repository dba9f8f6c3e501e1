"""The lead pipeline: status (lost with a reason), owner, tags and private notes over the
console's JSON API and its pages; each change one lead.updated event that consoles and
webhooks get; an operator limited to other sites finds nothing (404); hostile values
are text on every page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from markupsafe import escape

from server.errors import Invalid
from server.services import lead_pipeline
from tests.clients import connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.conftest import BACKENDS, served
from tests.factories import PASSWORD, make_operator, make_site, make_webhook
from tests.receivers import WEBHOOK_ENV, Receiver
from tests.servers import ServerProcess

HOSTILE = '<img src=x onerror=alert("tag")>'
HOSTILE_NOTE = "<script>alert('note')</script> call after 18:00 & ask for Ivan"
HOSTILE_REASON = '"><svg onload=alert(1)> went with a competitor'
HOSTILE_NAME = "<svg onload=alert('name')>Ola"


@pytest.fixture(scope="module", params=BACKENDS)
def hooks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose webhooks may reach the receiver on 127.0.0.1, shared by this module."""
    with served(request.param, tmp_path_factory.mktemp("pipeline-" + request.param), **WEBHOOK_ENV,
                FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE="1000") as proc:
        yield proc


async def csrf(http: httpx.AsyncClient) -> dict[str, str]:
    page = await http.get("/console/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return {"X-CSRF-Token": token.group(1)}


async def new_lead(server: ServerProcess, http: httpx.AsyncClient, site: Any, name: str | None = None) -> str:
    """A visitor registers on the site (and so becomes a lead), and says their name if
    given; returns the lead's id."""
    visitor = await start_visitor(server, site.key, site.allowed_origins[0])
    if name is not None:
        socket, _ = await connect_visitor(server, site.key, site.allowed_origins[0], visitor["token"])
        await socket.send({"type": "visitor.identify", "id": new_id(), "name": name})
        await socket.recv_until(lambda f: f.get("type") == "identified")
        await socket.close()
    card = await http.get(f"/api/console/v1/visitors/{visitor['visitor']['id']}/lead")
    assert card.status_code == 200, card.text
    return str(card.json()["lead"]["id"])


def api(lead_id: str, tail: str = "") -> str:
    return f"/console/api/leads/{lead_id}{tail}"


# ---- the rules, without a server


def test_tags_are_normalised_and_odd_ones_refused() -> None:
    assert lead_pipeline.check_tag("  VIP   Client ") == "vip client"
    assert lead_pipeline.check_tag("ОПТ") == "опт"
    assert lead_pipeline.check_tag(HOSTILE) == HOSTILE.lower()  # markup is text: allowed, shown as text
    assert lead_pipeline.check_tag("x" * 50) == "x" * 50
    for bad, reason in (("", None), ("   ", None), (5, None), (None, None), ("a,b", "chars"), ("a\nb", "chars"),
                        ("evil\u202etxt", "chars"), ("zero\u200bwidth", "chars"), ("x" * 51, "length")):
        with pytest.raises(Invalid) as refused:
            lead_pipeline.check_tag(bad)
        assert refused.value.field == "tag"
        if reason:
            assert refused.value.reason == reason, bad


def test_status_reason_and_owner_checks() -> None:
    assert lead_pipeline.check_status(" Won ") == "won"
    for bad in ("closed", "", None, 3, ["new"]):
        with pytest.raises(Invalid) as refused:
            lead_pipeline.check_status(bad)
        assert refused.value.field == "status"
    assert lead_pipeline.check_lost_reason("won", "ignored") is None
    assert lead_pipeline.check_lost_reason("lost", "  too expensive ") == "too expensive"
    with pytest.raises(Invalid) as refused:
        lead_pipeline.check_lost_reason("lost", "  ")
    assert refused.value.field == "lost_reason"
    assert lead_pipeline.check_owner(None) is None and lead_pipeline.check_owner("") is None
    assert lead_pipeline.check_owner("7") == 7 and lead_pipeline.check_owner(7) == 7
    for bad in (True, -1, 0, "x", 2**40, 1.5):
        with pytest.raises(Invalid):
            lead_pipeline.check_owner(bad)


# ---- over the API, with events and webhooks (both backends)


async def test_every_change_is_one_lead_updated_event_for_consoles_and_webhooks(
    hooks: ServerProcess, receiver: Receiver
) -> None:
    site, elsewhere = await make_site(hooks), await make_site(hooks)
    endpoint = await make_webhook(hooks, site, receiver.url, event_types=("lead.updated",))
    receiver.secret = endpoint.secret
    admin = await make_operator(hooks, name="Anna", role="admin")
    agent = await make_operator(hooks, name="Boris <b>B</b>", role="agent", site_keys=[site.key])
    stranger = await make_operator(hooks, name="Vera", role="agent", site_keys=[elsewhere.key])
    http = await console_login(hooks, agent.email, PASSWORD)
    admin_http = await console_login(hooks, admin.email, PASSWORD)
    headers = await csrf(http)
    lead_id = await new_lead(hooks, http, site)
    console = await connect_operator(hooks, admin_http)   # another operator, watching live

    async def next_update() -> dict[str, Any]:
        return await console.recv_until(lambda f: f["type"] == "lead.updated" and f.get("by") is not None)

    # An agent moves the lead; the admin's console hears exactly that.
    moved = await http.put(api(lead_id, "/status"), json={"status": "contacted"}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["pipeline"]["status"] == "contacted"
    frame = await next_update()
    assert frame["lead"]["id"] == lead_id and frame["lead"]["status"] == "contacted"
    assert frame["changed"] == ["status"] and frame["site_id"] == site.id
    assert frame["pipeline"] == {**moved.json()["pipeline"], "owner": None, "tags": [], "lost_reason": None}
    assert frame["pipeline"]["status_changed_at"]
    assert frame["by"] == {"kind": "operator", "id": agent.id, "name": "Boris <b>B</b>"}

    # Lost needs a reason, said in the operator's language; nothing changes.
    refused = await http.put(api(lead_id, "/status"), json={"status": "lost"}, headers={**headers, "Accept-Language": "ru"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "lost_reason"
    assert refused.json()["error"]["message"] == "Укажите, почему лид потерян."
    long = await http.put(api(lead_id, "/status"), json={"status": "lost", "lost_reason": "x" * 501}, headers=headers)
    assert long.status_code == 413 and long.json()["error"]["field"] == "lost_reason"
    odd = await http.put(api(lead_id, "/status"), json={"status": "archived"}, headers=headers)
    assert odd.status_code == 400 and odd.json()["error"]["field"] == "status"
    lost = await http.put(api(lead_id, "/status"), json={"status": "lost", "lost_reason": HOSTILE_REASON}, headers=headers)
    assert lost.status_code == 200 and lost.json()["pipeline"]["lost_reason"] == HOSTILE_REASON
    frame = await next_update()
    assert frame["changed"] == ["status", "lost_reason"] and frame["pipeline"]["lost_reason"] == HOSTILE_REASON

    # The owner: an operator of the lead's site, not one who cannot see it.
    for bad in (stranger.id, 999999, "me", True):
        wrong = await http.put(api(lead_id, "/owner"), json={"owner_id": bad}, headers=headers)
        assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "owner_id", bad
    owned = await http.put(api(lead_id, "/owner"), json={"owner_id": agent.id}, headers=headers)
    assert owned.json()["pipeline"]["owner"] == {"id": agent.id, "name": "Boris <b>B</b>"}
    frame = await next_update()
    assert frame["changed"] == ["owner_id"] and frame["pipeline"]["owner"]["id"] == agent.id

    # Tags: normalised, once; a second time changes nothing (no event).
    tagged = await http.post(api(lead_id, "/tags"), json={"tag": "  " + HOSTILE.upper() + " "}, headers=headers)
    assert tagged.status_code == 200 and tagged.json()["pipeline"]["tags"] == [HOSTILE.lower()]
    again = await http.post(api(lead_id, "/tags"), json={"tag": HOSTILE}, headers=headers)
    assert again.status_code == 200 and again.json()["pipeline"]["tags"] == [HOSTILE.lower()]
    frame = await next_update()
    assert frame["changed"] == ["tags"] and frame["pipeline"]["tags"] == [HOSTILE.lower()]

    # A note: 201 with the note; the event carries it.
    note = await http.post(api(lead_id, "/notes"), json={"body": HOSTILE_NOTE}, headers=headers)
    assert note.status_code == 201 and note.json()["note"]["body"] == HOSTILE_NOTE
    assert note.json()["note"]["author"] == {"id": agent.id, "name": "Boris <b>B</b>"}
    frame = await next_update()
    assert frame["changed"] == ["notes"] and frame["note"] == note.json()["note"]

    untagged = await http.request("DELETE", api(lead_id, "/tags"), json={"tag": HOSTILE}, headers=headers)
    assert untagged.status_code == 200 and untagged.json()["pipeline"]["tags"] == []
    frame = await next_update()
    assert frame["changed"] == ["tags"] and frame["pipeline"]["tags"] == []

    # The card's read: everything at once, and the owners it may be given.
    view = (await http.get(api(lead_id))).json()
    assert view["pipeline"]["status"] == "lost" and [n["body"] for n in view["notes"]] == [HOSTILE_NOTE]
    assert {o["id"] for o in view["owners"]} >= {admin.id, agent.id} and stranger.id not in {o["id"] for o in view["owners"]}
    assert view["statuses"] == ["new", "contacted", "qualified", "won", "lost"]
    # The last event applied to what a console held is what a fresh read gives (Zulip's verify_action).
    assert frame["pipeline"] == view["pipeline"] and frame["lead"] == {k: v for k, v in view["lead"].items()
                                                                       if k != "phone_display"}

    # The board and the lead's page read the same on this backend.
    board = (await http.get("/console/leads/board?owner=me")).text
    assert f'id="lead-{lead_id}"' in board[board.index('data-status="lost"'):]
    assert (await http.get(f"/console/leads/{lead_id}")).status_code == 200

    # Webhooks: the same six changes, signed, with the pipeline and who did it.
    await receiver.wait_for(  # (wait_for holds the receiver's lock: read deliveries, not payloads())
        lambda r: sum("pipeline" in d.payload["data"] for d in r.deliveries) >= 6, "six pipeline deliveries")
    pipeline_hooks = [p for p in receiver.payloads("lead.updated") if "pipeline" in p["data"]]
    assert [p["data"]["changed"] for p in pipeline_hooks] == [
        ["status"], ["status", "lost_reason"], ["owner_id"], ["tags"], ["notes"], ["tags"]]
    assert all(p["data"]["site_key"] == site.key and p["data"]["by"]["id"] == agent.id for p in pipeline_hooks)
    assert pipeline_hooks[4]["data"]["note"]["body"] == HOSTILE_NOTE
    assert receiver.bad_signatures == 0
    await console.close()
    for client in (http, admin_http):
        await client.aclose()


# ---- who may (a SQLite server of its own login budget)


async def test_agents_work_leads_and_a_limited_operator_finds_nothing(admin_server: ServerProcess) -> None:
    site, elsewhere = await make_site(admin_server), await make_site(admin_server)
    agent = await make_operator(admin_server, role="agent")
    limited = await make_operator(admin_server, role="agent", site_keys=[elsewhere.key])
    http, limited_http = await console_login(admin_server, agent.email, PASSWORD), await console_login(
        admin_server, limited.email, PASSWORD)
    headers, limited_headers = await csrf(http), await csrf(limited_http)
    lead_id = await new_lead(admin_server, http, site)
    assert (await http.put(api(lead_id, "/status"), json={"status": "qualified"}, headers=headers)).status_code == 200

    # The limited operator: not found, for reading and for every change, and nothing changes.
    changes = [("PUT", "/status", {"status": "won"}), ("PUT", "/owner", {"owner_id": limited.id}),
               ("POST", "/tags", {"tag": "mine"}), ("DELETE", "/tags", {"tag": "mine"}), ("POST", "/notes", {"body": "hi"})]
    assert (await limited_http.get(api(lead_id))).status_code == 404
    for method, tail, body in changes:
        response = await limited_http.request(method, api(lead_id, tail), json=body, headers=limited_headers)
        assert response.status_code == 404 and response.json()["error"]["field"] == "lead_id", (tail, response.text)
    assert (await limited_http.get(f"/console/leads/{lead_id}")).status_code == 404
    token = limited_headers["X-CSRF-Token"]
    posted = await limited_http.post(f"/console/leads/{lead_id}/pipeline",
                                     data={"csrf_token": token, "action": "status", "status": "won"})
    assert posted.status_code == 404
    board = (await limited_http.get("/console/leads/board")).text
    assert lead_id not in board and site.name not in board
    view = (await http.get(api(lead_id))).json()
    assert view["pipeline"] == {**view["pipeline"], "status": "qualified", "owner": None, "tags": []} and view["notes"] == []
    assert lead_id in (await http.get("/console/leads/board")).text

    # No session: 401; no CSRF header: refused; an unknown lead: 404.
    assert (await http.put(api(lead_id, "/status"), json={"status": "won"})).status_code == 403
    assert (await http.put(api(lead_id, "/status"), json={"status": "won"}, headers={"X-CSRF-Token": "x"})).status_code == 403
    assert (await http.put(api("nosuchlead", "/status"), json={"status": "won"}, headers=headers)).status_code == 404
    assert (await http.put(api("x" * 65, "/status"), json={"status": "won"}, headers=headers)).status_code == 404
    bad_body = await http.post(api(lead_id, "/notes"), content=b"[1]", headers={**headers, "Content-Type": "application/json"})
    assert bad_body.status_code == 400
    empty = await http.post(api(lead_id, "/notes"), json={"body": "  "}, headers=headers)
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "body"
    assert empty.json()["error"]["message"] == "Write the note first."
    huge = await http.post(api(lead_id, "/notes"), json={"body": "x" * 5001}, headers=headers)
    assert huge.status_code == 413
    assert (await http.put(api(lead_id, "/owner"), json={}, headers=headers)).status_code == 400
    async with httpx.AsyncClient(base_url=admin_server.url, timeout=30) as anonymous:
        assert (await anonymous.get(api(lead_id))).status_code == 401
        assert (await anonymous.put(api(lead_id, "/status"), json={"status": "won"})).status_code == 401
        assert (await anonymous.get("/console/leads/board")).status_code == 303
        assert (await anonymous.get(f"/console/leads/{lead_id}")).status_code == 303
    for client in (http, limited_http):
        await client.aclose()


async def test_at_most_twenty_tags(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server)
    operator = await make_operator(admin_server, role="agent")
    http = await console_login(admin_server, operator.email, PASSWORD)
    headers = {**await csrf(http), "Accept-Language": "uk"}
    lead_id = await new_lead(admin_server, http, site)
    for n in range(lead_pipeline.MAX_TAGS):
        assert (await http.post(api(lead_id, "/tags"), json={"tag": f"tag {n}"}, headers=headers)).status_code == 200
    refused = await http.post(api(lead_id, "/tags"), json={"tag": "one more"}, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "tag"
    assert refused.json()["error"]["message"] == "Лід може мати не більше 20 міток: спершу приберіть одну."
    bad = await http.post(api(lead_id, "/tags"), json={"tag": "a, b"}, headers=headers)
    assert bad.status_code == 400 and "коми" in bad.json()["error"]["message"]
    assert len((await http.get(api(lead_id))).json()["pipeline"]["tags"]) == lead_pipeline.MAX_TAGS
    await http.aclose()


# ---- the pages: forms that work without script, hostile values as text


async def test_the_lead_page_and_board_forms_and_hostile_values(admin_server: ServerProcess) -> None:
    site = await make_site(admin_server, name="Shop <i>italic</i>")
    operator = await make_operator(admin_server, name="Olga <u>U</u>", role="agent")
    http = await console_login(admin_server, operator.email, PASSWORD)
    token = (await csrf(http))["X-CSRF-Token"]
    lead_id = await new_lead(admin_server, http, site, name=HOSTILE_NAME)
    url = f"/console/leads/{lead_id}/pipeline"

    async def post(**form: str) -> httpx.Response:
        return await http.post(url, data={"csrf_token": token, **form})

    done = await post(action="tag_add", tag=HOSTILE)
    assert done.status_code == 303 and done.headers["location"] == f"/console/leads/{lead_id}"
    assert (await post(action="note", body=HOSTILE_NOTE)).status_code == 303
    assert (await post(action="owner", owner_id=str(operator.id))).status_code == 303
    refused = await post(action="status", status="lost", lost_reason="", next="board")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/console/leads/board?error=")
    shown = (await http.get(refused.headers["location"])).text
    assert "Say why the lead was lost." in shown
    # The way back names the error, never its text: a crafted link cannot make the page say anything.
    crafted = (await http.get("/console/leads/board?error=Your+session+expired,+call+555&field=x")).text
    assert "call 555" not in crafted and 'id="fd-pipeline-error"' not in crafted
    named = (await http.get("/console/leads/board?error=invalid&field=tag&reason=too_many&max=20")).text
    assert "A lead can have at most 20 tags: remove one first." in named
    moved = await post(action="status", status="lost", lost_reason=HOSTILE_REASON, next="board")
    assert moved.headers["location"] == f"/console/leads/board#lead-{lead_id}"
    assert (await http.post(url, data={"action": "note", "body": "no token"})).status_code == 403
    odd = await post(action="explode")
    assert "error=" in odd.headers["location"]

    page = await http.get(f"/console/leads/{lead_id}")
    assert page.status_code == 200
    text = page.text
    for value in (HOSTILE.lower(), HOSTILE_NOTE, HOSTILE_REASON, "Olga <u>U</u>", "Shop <i>italic</i>", HOSTILE_NAME):
        assert str(escape(value)) in text, value
        assert value not in text, value   # never as markup
    assert 'class="fd-status fd-status-lost"' in text
    assert f'<option value="{operator.id}" selected>' in text

    board = (await http.get("/console/leads/board")).text
    lost_column = board[board.index('data-status="lost"'):]
    assert f'id="lead-{lead_id}"' in lost_column
    assert str(escape(HOSTILE.lower())) in board and HOSTILE.lower() not in board
    assert "Olga &lt;u&gt;U&lt;/u&gt;" in board
    assert str(escape(HOSTILE_NAME)) in board and HOSTILE_NAME not in board
    assert 'href="/console/leads/board"' in board  # the nav links the board

    # The board's filters: whose leads, which site; a move keeps them.
    other = await make_site(admin_server)
    assert f'id="lead-{lead_id}"' in (await http.get("/console/leads/board?owner=me")).text
    assert f'id="lead-{lead_id}"' not in (await http.get("/console/leads/board?owner=none")).text
    assert f'id="lead-{lead_id}"' in (await http.get(f"/console/leads/board?site={site.id}")).text
    assert f'id="lead-{lead_id}"' not in (await http.get(f"/console/leads/board?site={other.id}")).text
    assert f'id="lead-{lead_id}"' in (await http.get("/console/leads/board?owner=<x>&site=abc")).text  # odd: ignored
    filtered = await post(action="status", status="won", next="board", board_query=f"owner=me&site={site.id}&evil=1")
    assert filtered.headers["location"] == f"/console/leads/board?owner=me&site={site.id}#lead-{lead_id}"

    # Back to "new": the reason goes with the status.
    await post(action="status", status="new")
    assert (await http.get(api(lead_id))).json()["pipeline"]["lost_reason"] is None
    await post(action="tag_remove", tag=HOSTILE)
    assert (await http.get(api(lead_id))).json()["pipeline"]["tags"] == []
    assert (await http.get("/console/leads/nosuchlead")).status_code == 404
    await http.aclose()


def test_pipeline_changes_are_limited_per_operator(tmp_path: Any) -> None:
    import asyncio

    async def run(server: ServerProcess) -> None:
        site = await make_site(server)
        operator = await make_operator(server, role="agent")
        http = await console_login(server, operator.email, PASSWORD)
        headers = {**await csrf(http), "Accept-Language": "kk"}
        lead_id = await new_lead(server, http, site)
        codes = [(await http.post(api(lead_id, "/tags"), json={"tag": f"t{n}"}, headers=headers)).status_code
                 for n in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = await http.put(api(lead_id, "/status"), json={"status": "won"}, headers=headers)
        assert refused.status_code == 429 and refused.json()["error"]["limit"] == "operator_actions"
        assert "Retry-After" in refused.headers
        kk = json.loads((Path(__file__).parent.parent / "server" / "i18n" / "kk.json").read_text(encoding="utf-8"))
        assert refused.json()["error"]["message"] == kk["error.rate_limited"]   # in the operator's language
        token = headers["X-CSRF-Token"]
        form = await http.post(f"/console/leads/{lead_id}/pipeline", data={"csrf_token": token, "action": "note", "body": "x"})
        assert form.status_code == 303 and "error=" in form.headers["location"]
        assert (await http.get(api(lead_id))).json()["pipeline"]["status"] == "new"   # reading is not held up
        await http.aclose()

    with served("sqlite", tmp_path, FRONTDESK_OPERATOR_ACTIONS_PER_MINUTE="3") as server:
        asyncio.run(run(server))
