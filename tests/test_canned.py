"""Canned answers over the console API: shared (admins) and personal, CSRF on every
change, clear errors naming the field, nobody sees another operator's own answers."""

from __future__ import annotations

import re

import httpx

from tests.clients import console_login
from tests.factories import PASSWORD, make_operator
from tests.servers import ServerProcess

URL = "/console/api/canned"  # under /console: the CSRF cookie's path


async def _csrf(http: httpx.AsyncClient) -> dict[str, str]:
    page = await http.get("/console/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return {"X-CSRF-Token": token.group(1)}


async def test_shared_and_personal_answers(sqlite_server: ServerProcess) -> None:
    admin = await make_operator(sqlite_server, name="Anna")
    agent = await make_operator(sqlite_server, name="Boris", role="agent")
    other = await make_operator(sqlite_server, name="Vera", role="agent")
    http_admin = await console_login(sqlite_server, admin.email, PASSWORD)
    http_agent = await console_login(sqlite_server, agent.email, PASSWORD)
    http_other = await console_login(sqlite_server, other.email, PASSWORD)
    h_admin, h_agent, h_other = await _csrf(http_admin), await _csrf(http_agent), await _csrf(http_other)

    hostile = "Здравствуйте, {visitor_name}! <script>alert(1)</script> Цена — 5 000 ₸. {operator_name}"
    shared = await http_admin.post(URL, json={"shortcut": "/Price", "body": hostile, "shared": True}, headers=h_admin)
    assert shared.status_code == 201, shared.text
    assert shared.json()["canned"] == {**shared.json()["canned"], "shortcut": "price", "body": hostile, "shared": True}

    # An agent may not make or change shared answers; their own ones are theirs alone.
    refused = await http_agent.post(URL, json={"shortcut": "hi", "body": "Hi", "shared": True}, headers=h_agent)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "shared"
    mine = await http_agent.post(URL, json={"shortcut": "доставка", "body": "Доставка 1–2 дня."}, headers=h_agent)
    assert mine.status_code == 201 and mine.json()["canned"]["shared"] is False
    mine_id = mine.json()["canned"]["id"]
    shared_id = shared.json()["canned"]["id"]
    changed = await http_agent.put(f"{URL}/{shared_id}", json={"shortcut": "price", "body": "free"}, headers=h_agent)
    assert changed.status_code == 403

    listed = {c["shortcut"] for c in (await http_agent.get(URL)).json()["canned"]}
    assert listed == {"price", "доставка"}
    assert {c["shortcut"] for c in (await http_other.get(URL)).json()["canned"]} == {"price"}
    # Someone else's own answer is not there for them.
    for method in ("put", "delete"):
        response = await getattr(http_other, method)(f"{URL}/{mine_id}", headers=h_other,
                                                     **({"json": {"shortcut": "x", "body": "y"}} if method == "put" else {}))
        assert response.status_code == 404, response.text

    # The same shortcut twice in one scope is refused; a personal one may shadow a shared one.
    again = await http_agent.post(URL, json={"shortcut": "ДОСТАВКА", "body": "twice"}, headers=h_agent)
    assert again.status_code == 400 and again.json()["error"]["field"] == "shortcut"
    assert "already" in again.json()["error"]["message"]
    shadow = await http_agent.post(URL, json={"shortcut": "price", "body": "My price"}, headers=h_agent)
    assert shadow.status_code == 201

    edited = await http_agent.put(f"{URL}/{mine_id}", json={"shortcut": "ship", "body": "Ships in 2 days."}, headers=h_agent)
    assert edited.status_code == 200 and edited.json()["canned"]["shortcut"] == "ship"
    assert (await http_agent.delete(f"{URL}/{mine_id}", headers=h_agent)).status_code == 204
    assert (await http_agent.delete(f"{URL}/{mine_id}", headers=h_agent)).status_code == 404
    assert (await http_admin.put(f"{URL}/{shared_id}", json={"shortcut": "price", "body": "New"}, headers=h_admin)).status_code == 200
    for http in (http_admin, http_agent, http_other):
        await http.aclose()


async def test_bad_input_and_missing_csrf_are_refused_clearly(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    headers = await _csrf(http)
    no_csrf = await http.post(URL, json={"shortcut": "a", "body": "b"})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    forged = await http.post(URL, json={"shortcut": "a", "body": "b"}, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    cases = [
        ({"shortcut": "", "body": "b"}, 400, "shortcut"),
        ({"shortcut": "two words", "body": "b"}, 400, "shortcut"),
        ({"shortcut": "<b>", "body": "b"}, 400, "shortcut"),
        ({"shortcut": "x" * 33, "body": "b"}, 400, "shortcut"),
        ({"shortcut": 5, "body": "b"}, 400, "shortcut"),
        ({"shortcut": "ok", "body": "   "}, 400, "body"),
        ({"shortcut": "ok", "body": "x" * 5001}, 413, "body"),
        ({"shortcut": "ok", "body": "b", "shared": "yes"}, 400, "shared"),
    ]
    for payload, status, field in cases:
        response = await http.post(URL, json=payload, headers=headers)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["error"]["field"] == field and response.json()["error"]["message"]
    not_object = await http.post(URL, content=b"[1]", headers={**headers, "Content-Type": "application/json"})
    assert not_object.status_code == 400
    assert (await http.put(f"{URL}/abc", json={"shortcut": "a", "body": "b"}, headers=headers)).status_code == 404
    assert (await http.put(f"{URL}/99999999999", json={"shortcut": "a", "body": "b"}, headers=headers)).status_code == 404
    assert [c for c in (await http.get(URL)).json()["canned"] if not c["shared"]] == []   # nothing stored
    await http.aclose()
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as anonymous:
        assert (await anonymous.get(URL)).status_code == 401
        assert (await anonymous.post(URL, json={"shortcut": "a", "body": "b"})).status_code == 401
