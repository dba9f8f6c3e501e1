"""The lead pipeline: status (lost with a reason), owner, tags and private notes (edited or
deleted by their author or an admin) over the console's JSON API and its pages, the board
filtered by tag; each change one lead.updated event that consoles and
webhooks get; an operator limited to other sites finds nothing (404); hostile values
are text on every page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, quote_plus

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


async def test_a_note_is_edited_or_deleted_by_its_author_or_an_admin_each_an_event(hooks: ServerProcess) -> None:
    site = await make_site(hooks)
    admin = await make_operator(hooks, name="Anna", role="admin")
    author = await make_operator(hooks, name="Boris", role="agent", site_keys=[site.key])
    other = await make_operator(hooks, name="Vera", role="agent", site_keys=[site.key])
    clients = [await console_login(hooks, o.email, PASSWORD) for o in (author, other, admin)]
    http, other_http, admin_http = clients
    headers, other_headers, admin_headers = [await csrf(c) for c in clients]
    lead_id = await new_lead(hooks, http, site)
    console = await connect_operator(hooks, other_http)   # Vera watches live

    async def next_update() -> dict[str, Any]:
        return await console.recv_until(lambda f: f["type"] == "lead.updated" and f.get("by") is not None)

    written = await http.post(api(lead_id, "/notes"), json={"body": "first words about quokkas"}, headers=headers)
    note = written.json()["note"]
    assert note["edited_at"] is None
    assert (await next_update())["note"]["id"] == note["id"]
    url = api(lead_id, f"/notes/{note['id']}")
    # The Leads page finds the lead by its note, labelled, linking the lead's page.
    found = (await http.get("/console/leads", params={"q": "quokka"})).text
    assert f'href="/console/leads/{lead_id}"' in found and "Note on the lead (operators only)" in found
    assert "<mark>quokkas</mark>" in found

    # Its author edits it (hostile text stays text); the event carries the new note.
    edited = await http.put(url, json={"body": HOSTILE_NOTE}, headers=headers)
    assert edited.status_code == 200, edited.text
    assert edited.json()["note"]["body"] == HOSTILE_NOTE and edited.json()["note"]["edited_at"]
    frame = await next_update()
    assert frame["changed"] == ["notes"] and frame["note"] == edited.json()["note"]
    assert frame["by"]["id"] == author.id
    same = await http.put(url, json={"body": HOSTILE_NOTE}, headers=headers)   # no change: no event
    assert same.status_code == 200
    assert f'href="/console/leads/{lead_id}"' not in (await http.get("/console/leads", params={"q": "quokka"})).text

    # Another agent may not: 403 naming the note, in their language, by the API and the form.
    refused = await other_http.put(url, json={"body": "mine now"}, headers={**other_headers, "Accept-Language": "ru"})
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "note_id"
    assert refused.json()["error"]["message"] == "Изменить или удалить заметку может только её автор или администратор."
    assert (await other_http.request("DELETE", url, headers=other_headers)).status_code == 403
    form = await other_http.post(f"/console/leads/{lead_id}/pipeline", data={
        "csrf_token": other_headers["X-CSRF-Token"], "action": "note_delete", "note_id": str(note["id"])})
    assert form.status_code == 403
    empty = await http.put(url, json={"body": " "}, headers=headers)
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "body"
    for bad in ("999999999", "abc", "-1"):
        missing = await http.put(api(lead_id, f"/notes/{bad}"), json={"body": "x"}, headers=headers)
        assert missing.status_code == 404 and missing.json()["error"]["field"] == "note_id", bad
    assert (await http.put(url, json={"body": "x"})).status_code == 403   # no CSRF header

    # The lead's page shows it as text, marked edited, with the controls for its author only.
    page = (await http.get(f"/console/leads/{lead_id}")).text
    assert str(escape(HOSTILE_NOTE)) in page and HOSTILE_NOTE not in page
    assert "edited" in page and f'id="fd-note-{note["id"]}-body"' in page
    assert f'id="fd-note-{note["id"]}-body"' not in (await other_http.get(f"/console/leads/{lead_id}")).text
    assert f'id="fd-note-{note["id"]}-body"' in (await admin_http.get(f"/console/leads/{lead_id}")).text
    assert (await http.get(api(lead_id))).json()["may_change_any_note"] is False
    assert (await admin_http.get(api(lead_id))).json()["may_change_any_note"] is True

    # An admin deletes it: gone, an event says which.
    deleted = await admin_http.request("DELETE", url, headers=admin_headers)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": note["id"]}
    frame = await next_update()
    assert frame["changed"] == ["notes"] and frame["deleted_note"] == {"id": note["id"]} and "note" not in frame
    assert frame["by"]["id"] == admin.id
    assert (await http.get(api(lead_id))).json()["notes"] == []
    assert (await http.request("DELETE", url, headers=headers)).status_code == 404

    # The form path: its author edits and deletes a note without script.
    second = (await http.post(api(lead_id, "/notes"), json={"body": "by form"}, headers=headers)).json()["note"]
    pipeline_url = f"/console/leads/{lead_id}/pipeline"
    token = headers["X-CSRF-Token"]
    done = await http.post(pipeline_url, data={"csrf_token": token, "action": "note_edit",
                                               "note_id": str(second["id"]), "body": "changed by form"})
    assert done.status_code == 303 and done.headers["location"] == f"/console/leads/{lead_id}"
    assert [n["body"] for n in (await http.get(api(lead_id))).json()["notes"]] == ["changed by form"]
    await http.post(pipeline_url, data={"csrf_token": token, "action": "note_delete", "note_id": str(second["id"])})
    assert (await http.get(api(lead_id))).json()["notes"] == []
    await console.close()
    for client in clients:
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
    # By tag, typed as it is shown or not ("  VIP " is "vip"); suggested from the tags in use.
    await post(action="tag_add", tag="Опт VIP")
    assert f'id="lead-{lead_id}"' in (await http.get("/console/leads/board?tag=%20%D0%9E%D0%BF%D1%82%20VIP")).text
    tagged = (await http.get("/console/leads/board?tag=" + quote("опт vip"))).text
    assert f'id="lead-{lead_id}"' in tagged and 'value="опт vip"' in tagged and '<option value="опт vip">' in tagged
    assert f'id="lead-{lead_id}"' not in (await http.get("/console/leads/board?tag=nosuchtag")).text
    assert f'id="lead-{lead_id}"' in (await http.get("/console/leads/board?tag=a,b")).text  # odd: ignored
    kept = await post(action="status", status="won", next="board", board_query="tag=" + quote("опт vip"))
    assert kept.headers["location"] == f"/console/leads/board?tag={quote_plus('опт vip')}#lead-{lead_id}"
    await post(action="tag_remove", tag="опт vip")

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
        edit = await http.put(api(lead_id, "/notes/1"), json={"body": "x"}, headers=headers)
        assert edit.status_code == 429
        assert (await http.request("DELETE", api(lead_id, "/notes/1"), headers=headers)).status_code == 429
        assert (await http.get(api(lead_id))).json()["pipeline"]["status"] == "new"   # reading is not held up
        await http.aclose()

    with served("sqlite", tmp_path, FRONTDESK_OPERATOR_ACTIONS_PER_MINUTE="3") as server:
        asyncio.run(run(server))
