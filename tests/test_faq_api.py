"""FAQ over HTTP (search, answer, vote) and `frontdesk faq import|export`, on a real server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from server.cli import opened
from tests.factories import make_site, settings_for
from tests.servers import ServerProcess, frontdesk

ORIGIN_OF = lambda site: site.allowed_origins[0]  # noqa: E731

CSV = (
    "question,answer,category,lang\n"
    '"Сколько стоит доставка?","**Бесплатно** от 5000 ₸. [Тарифы](https://shop.example/rates)",Доставка,ru\n'
    '"Жеткізу қанша тұрады?","5000 ₸-ден бастап <script>alert(1)</script> тегін.",Жеткізу,kk\n'
    '"How much is delivery?","Free from 5000 ₸.",Delivery,en\n'
)


async def test_search_answer_and_vote_over_http(sqlite_server: ServerProcess, tmp_path: Path) -> None:
    server = sqlite_server
    site = await make_site(server)
    (tmp_path / "faq.csv").write_text(CSV, encoding="utf-8")
    done = frontdesk(server, "faq", "import", str(tmp_path / "faq.csv"), "--site", site.key)
    assert done.returncode == 0, done.stderr
    assert "3 created, 0 updated, 0 unchanged, 0 failed" in done.stdout
    api = f"{server.url}/api/widget/v1/sites/{site.key}"
    async with httpx.AsyncClient(timeout=10) as http:
        config = (await http.get(f"{api}/config", headers={"Origin": ORIGIN_OF(site)})).json()
        assert config["site"]["tabs"] == ["chat", "faq"]

        found = await http.get(f"{api}/faq/search", params={"q": "ljcnfdrf", "lang": "ru"},
                               headers={"Origin": ORIGIN_OF(site)})
        assert found.status_code == 200 and found.headers["access-control-allow-origin"] == ORIGIN_OF(site)
        first = found.json()["results"][0]
        assert first["question"] == "Сколько стоит доставка?" and first["lang"] == "ru"
        assert first["snippet"].startswith("Бесплатно от 5000")

        kk = (await http.get(f"{api}/faq/search", params={"q": "жеткізіледі", "lang": "kk"})).json()["results"]
        assert kk[0]["lang"] == "kk"  # no Origin: a server, not a browser; public FAQ is served
        answer = (await http.get(f"{api}/faq/articles/{kk[0]['id']}")).json()
        assert "<script" not in answer["answer_html"] and "&lt;script&gt;" in answer["answer_html"]

        refused = await http.get(f"{api}/faq/search", params={"q": "x"}, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
        too_long = await http.get(f"{api}/faq/search", params={"q": "д" * 201, "lang": "ru"})
        assert too_long.status_code == 413 and too_long.json()["error"]["field"] == "q"
        bad_lang = await http.get(f"{api}/faq/search", params={"q": "x", "lang": "zz"})
        assert bad_lang.status_code == 400 and bad_lang.json()["error"]["field"] == "lang"
        assert (await http.get(f"{api}/faq/articles/999999")).status_code == 404

        nothing = await http.get(f"{api}/faq/search", params={"q": "возврат денег", "lang": "ru"})
        assert nothing.json() == {"results": []}
        vote = await http.post(f"{api}/faq/articles/{first['id']}/feedback?lang=ru",
                               json={"helpful": False, "query": "ljcnfdrf в Алматы"},
                               headers={"Origin": ORIGIN_OF(site)})
        assert vote.status_code == 200, vote.text
        bad_vote = await http.post(f"{api}/faq/articles/{first['id']}/feedback",
                                   json={"helpful": "maybe"}, headers={"Origin": ORIGIN_OF(site)})
        assert bad_vote.status_code == 400 and bad_vote.json()["error"]["field"] == "helpful"

    async with opened(settings_for(server)) as state:
        gaps = await state.faq.gaps(site)
        article = await state.faq.article(site, first["id"])
    assert {(g["kind"], g["query"]) for g in gaps} == {("no_result", "возврат денег"),
                                                      ("unhelpful", "ljcnfdrf в Алматы")}
    assert (article.helpful_yes, article.helpful_no) == (0, 1)


async def test_import_is_idempotent_and_export_round_trips(sqlite_server: ServerProcess, tmp_path: Path) -> None:
    server = sqlite_server
    site = await make_site(server)
    (tmp_path / "faq.csv").write_text(CSV, encoding="utf-8")
    frontdesk(server, "faq", "import", str(tmp_path / "faq.csv"), "--site", site.key)
    again = frontdesk(server, "faq", "import", str(tmp_path / "faq.csv"), "--site", site.key)
    assert "0 created, 0 updated, 3 unchanged, 0 failed" in again.stdout

    exported = frontdesk(server, "faq", "export", "--site", site.key, "--format", "json")
    articles = json.loads(exported.stdout)
    assert len(articles) == 3
    articles[0]["answer"] = "Changed."
    (tmp_path / "faq.json").write_text(json.dumps(articles, ensure_ascii=False), encoding="utf-8")
    changed = frontdesk(server, "faq", "import", str(tmp_path / "faq.json"), "--site", site.key)
    assert "0 created, 1 updated, 2 unchanged, 0 failed" in changed.stdout

    md = frontdesk(server, "faq", "export", "--site", site.key, "--format", "md", "--out", str(tmp_path / "md"))
    assert md.returncode == 0, md.stderr
    assert len(list((tmp_path / "md").glob("*.md"))) == 3
    (tmp_path / "md" / "new.md").write_text(
        "---\nquestion: \"Do you ship: abroad?\"\nlang: en\nphrasings:\n  - International shipping?\n---\nYes.\n",
        encoding="utf-8",
    )
    back = frontdesk(server, "faq", "import", str(tmp_path / "md"), "--site", site.key)
    assert "1 created, 0 updated, 3 unchanged, 0 failed" in back.stdout, back.stdout + back.stderr

    (tmp_path / "bad.csv").write_text("question,answer,category,lang\nQ,,c,en\n", encoding="utf-8")
    bad = frontdesk(server, "faq", "import", str(tmp_path / "bad.csv"), "--site", site.key)
    assert bad.returncode == 1 and "line 2: skipped (answer)" in bad.stderr
    missing = frontdesk(server, "faq", "import", str(tmp_path / "bad.csv"), "--site", "fd_nope")
    assert missing.returncode == 2 and "site" in missing.stderr
