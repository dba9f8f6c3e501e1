"""Widget HTTP endpoints: origins, site keys, tokens, sizes, malformed bodies."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import make_site
from tests.servers import ServerProcess


async def test_config_for_an_allowed_origin(server: ServerProcess) -> None:
    site = await make_site(server, origins=["https://shop.example.com", "http://localhost:3000"], language="ru")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        response = await client.get(
            f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": "http://localhost:3000"}
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    body = response.json()
    assert body["site"]["name"] == site.name and body["site"]["language"] == "ru"
    assert set(body) == {"site", "operators_online", "labels"}
    assert body["labels"] == ["Открыть чат", "Закрыть чат"]  # the site speaks Russian


def test_greetings_are_set_per_language_with_the_default_as_fallback(
    sqlite_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`create-site --greeting TEXT --greeting ru=TEXT`: the config names the greeting in the
    widget's language, or the default one; the launcher reads on its colour."""
    from server.cli import main

    with monkeypatch.context() as patched:  # in-process, as the user's command runs
        for name, value in sqlite_server.env.items():
            patched.setenv(name, value)
        assert main([
            "create-site", "Aurora Coffee", "--origin", "https://aurora.example", "--color", "#F5C518",
            "--greeting", "Hi! Ask us about our coffee.", "--greeting", "ru=Здравствуйте! Спросите нас о кофе.",
            "--greeting", "kk=Сәлеметсіз бе!",
        ]) == 0
        key = next(line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("key:"))
        with pytest.raises(SystemExit) as refused:
            main(["create-site", "Twice", "--origin", "https://twice.example", "--greeting", "ru=А", "--greeting", "ru=Б"])
        assert refused.value.code == 2 and "(greeting)" in capsys.readouterr().err

    def config(**headers: str) -> dict[str, object]:
        response = httpx.get(
            f"{sqlite_server.url}/api/widget/v1/sites/{key}/config", headers={"Origin": "https://aurora.example", **headers}
        )
        assert response.status_code == 200, response.text
        return response.json()["site"]  # type: ignore[no-any-return]

    russian = config(**{"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert russian["greeting"] == "Здравствуйте! Спросите нас о кофе."
    assert russian["greetings"] == {
        "": "Hi! Ask us about our coffee.", "ru": "Здравствуйте! Спросите нас о кофе.", "kk": "Сәлеметсіз бе!",
    }
    assert config(**{"Accept-Language": "de-DE"})["greeting"] == "Hi! Ask us about our coffee."
    # A yellow brand colour keeps its colour and gets black text (white would be 1.6:1).
    assert (russian["color"], russian["text_color"]) == ("#f5c518", "#000000")
    assert config()["name"] == "Aurora Coffee"


def test_text_color_is_readable_on_any_brand_colour() -> None:
    from server.services.sites import text_color

    def contrast(a: str, b: str) -> float:
        def luminance(color: str) -> float:
            c = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
            c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
            return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

        light, dark = sorted((luminance(a), luminance(b)), reverse=True)
        return (light + 0.05) / (dark + 0.05)

    for color in ["#2563eb", "#a0561a", "#b5651d", "#f5c518", "#777777", "#000000", "#ffffff", "#00ff00", "#ff0000"]:
        assert contrast(color, text_color(color)) >= 4.5, color
    assert text_color("#2563eb") == "#ffffff" and text_color("#ffffff") == "#000000"


@pytest.mark.parametrize(
    ("origin", "path_key", "status", "code"),
    [
        ("http://evil.test", None, 403, "origin_not_allowed"),
        (None, None, 403, "origin_not_allowed"),
        ("https://shop.example.com.evil.test", None, 403, "origin_not_allowed"),
        ("http://shop.example.com", None, 403, "origin_not_allowed"),  # scheme differs
        ("https://shop.example.com", "fd_doesnotexist", 404, "site_not_found"),
        ("https://shop.example.com", "x" * 500, 404, "site_not_found"),
    ],
)
async def test_config_refusals_are_clear(
    sqlite_server: ServerProcess, origin: str | None, path_key: str | None, status: int, code: str
) -> None:
    site = await make_site(sqlite_server, origins=["https://shop.example.com"])
    headers = {"Origin": origin} if origin else {}
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        response = await client.get(f"/api/widget/v1/sites/{path_key or site.key}/config", headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and len(error["message"]) > 10


async def test_oversized_body_is_refused_in_the_callers_language(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        response = await client.post(
            f"/api/widget/v1/sites/{site.key}/visitors", content=b"{" + b" " * 70_000 + b"}",
            headers={"Origin": site.allowed_origins[0], "Content-Type": "application/json", "Accept-Language": "ru"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "Запрос слишком большой (не более 65536 байт)."


async def test_error_message_in_russian(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        response = await client.get(
            f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": "http://evil.test", "Accept-Language": "ru-RU,ru;q=0.9"}
        )
    assert any("\u0400" <= ch <= "\u04ff" for ch in response.json()["error"]["message"])


@pytest.mark.parametrize(
    ("accept", "page_lang", "labels", "message"),
    [
        ("uk-UA,uk;q=0.9", "", ["Відкрити чат", "Закрити чат"], "Цьому сайту не дозволено використовувати цей чат."),
        ("kk-KZ,kk;q=0.9,ru;q=0.8", "", ["Чатты ашу", "Чатты жабу"], "Бұл сайтқа осы чатты пайдалануға рұқсат жоқ."),
        ("en-US", "kk", ["Чатты ашу", "Чатты жабу"], None),  # the page says its language (data-lang)
    ],
)
async def test_ukrainian_and_kazakh_callers(
    sqlite_server: ServerProcess, accept: str, page_lang: str, labels: list[str], message: str | None
) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, headers={"Accept-Language": accept}) as client:
        config = await client.get(
            f"/api/widget/v1/sites/{site.key}/config?lang={page_lang}", headers={"Origin": site.allowed_origins[0]}
        )
        refused = await client.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": "http://evil.test"})
    assert config.json()["labels"] == labels
    if message:
        assert refused.json()["error"]["message"] == message


async def test_visitor_session_is_kept_by_token(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    async with httpx.AsyncClient(base_url=server.url, headers={"Origin": origin}) as client:
        first = (await client.post(f"/api/widget/v1/sites/{site.key}/visitors", json={"token": None})).json()
        again = (await client.post(f"/api/widget/v1/sites/{site.key}/visitors", json={"token": first["token"]})).json()
        other = (await client.post(f"/api/widget/v1/sites/{site.key}/visitors", json={})).json()
    assert again["visitor"]["id"] == first["visitor"]["id"]
    assert other["visitor"]["id"] != first["visitor"]["id"]
    assert first["conversation"] is None


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "bad_frame"),
        (b"[1, 2]", 400, "invalid"),
        (b'{"token": "' + b"a" * 600 + b'"}', 401, "invalid_token"),
        (b'{"token": 42}', 401, "invalid_token"),
        (b'{"token": null, "page": "' + b"p" * 70_000 + b'"}', 413, "too_large"),
    ],
)
async def test_bad_visitor_bodies(sqlite_server: ServerProcess, content: bytes, status: int, code: str) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        response = await client.post(
            f"/api/widget/v1/sites/{site.key}/visitors", content=content,
            headers={"Origin": site.allowed_origins[0], "Content-Type": "application/json"},
        )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_panel_may_be_framed_only_by_the_sites_origins(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server, origins=["https://shop.example.com", "http://localhost:3000"])
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        panel = await client.get(f"/widget/panel.html?site={site.key}")
        unknown = await client.get("/widget/panel.html?site=fd_nope")
    csp = panel.headers["content-security-policy"]
    assert "frame-ancestors https://shop.example.com http://localhost:3000" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in unknown.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/widget//panel.html", "/widget///panel.html"])
async def test_panel_cannot_be_fetched_around_its_framing_policy(sqlite_server: ServerProcess, path: str) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        response = await client.get(f"{path}?site={site.key}", extensions={"raw_path": path.encode()})
    assert response.status_code == 404 or "frame-ancestors" in response.headers.get("content-security-policy", "")


async def test_embed_script_is_served_as_javascript(sqlite_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        response = await client.get("/embed.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "Frontdesk" in response.text


async def test_config_gives_the_launcher_offsets_the_script_tag_winning(sqlite_server: ServerProcess) -> None:
    """embed.js passes the tag's data-offset-x/-y (or "undefined" when absent) to the config
    call; a tag value that is not 0..1000 px leaves the site's setting in force."""
    site = await make_site(sqlite_server, offset_x=20, offset_y="76")
    origin = {"Origin": site.allowed_origins[0]}

    async def offsets(query: str) -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
            body = (await client.get(f"/api/widget/v1/sites/{site.key}/config?lang=en{query}", headers=origin)).json()
        return body["site"]["offset_x"], body["site"]["offset_y"]

    assert await offsets("") == (20, 76)
    assert await offsets("&x=undefined&y=undefined") == (20, 76)
    assert await offsets("&x=0&y=120px") == (0, 120)
    assert await offsets("&x=-5&y=1001") == (20, 76)
    assert await offsets("&x=%C2%B2&y=1e3") == (20, 76)


@pytest.mark.parametrize(("x", "y"), [(-1, 16), (16, 1001), ("ten", 16), (True, 16), (1.5, 16)])
async def test_site_offsets_out_of_range_are_refused(sqlite_server: ServerProcess, x: object, y: object) -> None:
    from server.errors import Invalid

    with pytest.raises(Invalid) as refused:
        await make_site(sqlite_server, offset_x=x, offset_y=y)
    assert refused.value.field == ("offset_x" if x != 16 else "offset_y")


def test_consent_mode_and_offsets_set_at_creation_and_changed_by_update_site(
    sqlite_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`create-site --consent-required`, a tag's data-consent="required" (sent by embed.js as
    ?consent=), and `update-site KEY --offset-x/--offset-y/--[no-]consent-required`."""
    from server.cli import main

    def config(key: str, query: str = "") -> dict[str, object]:
        response = httpx.get(
            f"{sqlite_server.url}/api/widget/v1/sites/{key}/config{query}", headers={"Origin": "https://consent.example"}
        )
        assert response.status_code == 200, response.text
        return response.json()["site"]  # type: ignore[no-any-return]

    with monkeypatch.context() as patched:
        for name, value in sqlite_server.env.items():
            patched.setenv(name, value)
        assert main(["create-site", "Consent First", "--origin", "https://consent.example", "--consent-required"]) == 0
        strict = next(line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("key:"))
        assert main(["create-site", "Consent Later", "--origin", "https://consent.example"]) == 0
        plain = next(line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("key:"))

        assert config(strict)["consent"] is True
        # The page cannot turn off what the site requires; it can ask for it where the site does not.
        assert config(strict, "?consent=undefined")["consent"] is True
        assert config(plain)["consent"] is False and config(plain, "?consent=undefined")["consent"] is False
        assert config(plain, "?consent=required")["consent"] is True

        assert main(["update-site", plain, "--offset-x", "90", "--offset-y", "120", "--consent-required"]) == 0
        assert "offset 90,120 px, consent required: yes" in capsys.readouterr().out
        site = config(plain)
        assert (site["offset_x"], site["offset_y"], site["consent"]) == (90, 120, True)
        assert main(["update-site", plain, "--no-consent-required"]) == 0
        capsys.readouterr()
        site = config(plain)
        assert (site["offset_x"], site["offset_y"], site["consent"]) == (90, 120, False)  # the rest kept

        for args, field in [(["--offset-y", "1001"], "(offset_y)"), (["--offset-x", "-5"], "(offset_x)")]:
            with pytest.raises(SystemExit) as refused:
                main(["update-site", plain, *args])
            assert refused.value.code == 2 and field in capsys.readouterr().err
        with pytest.raises(SystemExit) as unknown:
            main(["update-site", "fd_nosuchsite"])
        assert unknown.value.code == 2 and "No site has this key" in capsys.readouterr().err
        assert config(plain)["offset_y"] == 120  # nothing stored harmed
