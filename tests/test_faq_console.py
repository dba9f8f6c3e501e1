"""The console's FAQ screens: an admin lists, writes, edits and publishes articles through
CSRF-protected forms, and sees which questions the FAQ lacks; an agent may not."""

from __future__ import annotations

import re

import httpx

from tests.clients import console_login
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_an_admin_writes_edits_and_publishes_an_article(sqlite_server: ServerProcess) -> None:
    server = sqlite_server
    site = await make_site(server, name="Console FAQ shop")
    admin = await make_operator(server)
    http = await console_login(server, admin.email, PASSWORD)
    try:
        form = await http.get(f"/console/faq/new?site={site.key}")
        assert form.status_code == 200 and 'name="question"' in form.text
        token = _csrf(form.text)
        fields = {"csrf_token": token, "site": site.key, "question": "Как оплатить <b>заказ</b>?",
                  "answer": "Картой или **наличными**. <script>alert(1)</script>", "lang": "ru",
                  "category": "Оплата", "order": "1", "published": "on", "phrasings": "Способы оплаты\nОплата картой"}
        saved = await http.post("/console/faq/save", data=fields)
        assert saved.status_code == 303, saved.text
        listing = await http.get(saved.headers["location"])
        assert "Как оплатить &lt;b&gt;заказ&lt;/b&gt;?" in listing.text and "<b>заказ" not in listing.text

        async with httpx.AsyncClient(base_url=server.url, timeout=30) as visitor:
            found = (await visitor.get(f"/api/widget/v1/sites/{site.key}/faq/search",
                                       params={"q": "оплата наличными", "lang": "ru"})).json()["results"]
            assert found and found[0]["question"] == "Как оплатить <b>заказ</b>?"
            article_id = found[0]["id"]
            answer = (await visitor.get(f"/api/widget/v1/sites/{site.key}/faq/articles/{article_id}")).json()
            assert "<strong>наличными</strong>" in answer["answer_html"] and "<script" not in answer["answer_html"]

        edit = await http.get(f"/console/faq/{article_id}?site={site.key}")
        assert "Способы оплаты\nОплата картой" in edit.text
        missing = await http.post("/console/faq/save", data={**fields, "id": str(article_id), "answer": " "})
        assert missing.status_code == 400 and 'role="alert"' in missing.text
        assert 'aria-invalid="true"' in missing.text and "Answer" in missing.text
        forged = await http.post("/console/faq/save", data={**fields, "csrf_token": "forged", "answer": "Changed"})
        assert forged.status_code == 403

        hide = await http.post(f"/console/faq/{article_id}/publish",
                               data={"csrf_token": token, "site": site.key, "published": "0"})
        assert hide.status_code == 303
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as visitor:
            gone = await visitor.get(f"/api/widget/v1/sites/{site.key}/faq/articles/{article_id}")
            assert gone.status_code == 404
            await visitor.get(f"/api/widget/v1/sites/{site.key}/faq/search", params={"q": "самовывоз", "lang": "ru"})
        gaps = await http.get(f"/console/faq/gaps?site={site.key}")
        assert "самовывоз" in gaps.text and "No answer found" in gaps.text
    finally:
        await http.aclose()


async def test_an_agent_cannot_manage_the_faq(sqlite_server: ServerProcess) -> None:
    server = sqlite_server
    site = await make_site(server)
    agent = await make_operator(server)
    from server.cli import opened
    from server.services import operators
    from tests.factories import settings_for

    async with opened(settings_for(server)) as state:
        await operators.set_role(state.writer, agent.email, "agent")
    http = await console_login(server, agent.email, PASSWORD)
    try:
        assert (await http.get(f"/console/faq?site={site.key}")).status_code == 403
        token = _csrf((await http.get("/console/")).text)
        refused = await http.post("/console/faq/save", data={"csrf_token": token, "site": site.key,
                                                               "question": "Q", "answer": "A", "lang": "en"})
        assert refused.status_code == 403
    finally:
        await http.aclose()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anonymous:
        assert (await anonymous.get("/console/faq")).status_code == 303
