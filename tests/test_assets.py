"""How the widget's and the console's files go out: pre-compressed, content-hashed and
cached for good, embed.js and the panel page revalidated (server/web/assets.py)."""

from __future__ import annotations

import gzip
import json
import re

import brotli
import httpx

from tests.factories import make_site
from tests.servers import ServerProcess

def hashed_references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/(?:widget|static)/[^"]+)"', html)


async def test_files_go_out_compressed_as_the_browser_asks(sqlite_server: ServerProcess) -> None:
    from pathlib import Path

    source = (Path(__file__).resolve().parent.parent / "widget" / "panel.js").read_bytes()
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        for path in ["/embed.js", "/widget/panel.js"]:
            br = await client.get(path, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
            gz = await client.get(path, headers={"Accept-Encoding": "gzip"})
            plain = await client.get(path, headers={"Accept-Encoding": "identity"})
            refused = await client.get(path, headers={"Accept-Encoding": "br;q=0, gzip"})
            for response in (br, gz, plain, refused):
                assert response.status_code == 200, path
                assert response.headers["vary"] == "Accept-Encoding"
                assert response.headers["content-type"] == "text/javascript; charset=utf-8"
                assert response.content == plain.content  # httpx decodes: the same file every way
            assert br.headers["content-encoding"] == "br" and refused.headers["content-encoding"] == "gzip"
            assert gz.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
            wire_br, wire_gz = int(br.headers["content-length"]), int(gz.headers["content-length"])
            assert wire_br < wire_gz < int(plain.headers["content-length"]) * 0.6, (path, wire_br, wire_gz)
        assert plain.content == source
        # What a browser received is exactly the compressed file.
        async with client.stream("GET", "/widget/panel.js", headers={"Accept-Encoding": "br"}) as raw:
            assert brotli.decompress(b"".join([c async for c in raw.aiter_raw()])) == source
        async with client.stream("GET", "/widget/panel.js", headers={"Accept-Encoding": "gzip"}) as raw:
            assert gzip.decompress(b"".join([c async for c in raw.aiter_raw()])) == source


async def test_panel_names_its_files_by_content_and_they_are_immutable(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        page = await client.get(f"/widget/panel.html?site={site.key}")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
        assert "frame-ancestors" in page.headers["content-security-policy"]
        references = hashed_references(page.text)
        # Every script and style the page names, whatever its name: rewritten, none left plain.
        assert len(references) >= 3, references
        for url in references:
            assert re.search(r"\.[0-9a-f]{10}\.(js|css)$", url), url
            response = await client.get(url)
            assert response.status_code == 200, url
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable", url
            plain = await client.get(re.sub(r"\.[0-9a-f]{10}\.", ".", url))
            assert plain.content == response.content and plain.headers["cache-control"] == "no-cache"

        # What the panel fetches itself (its catalogues) is listed, hashed too.
        listing = json.loads(re.search(r'<script type="application/json" id="frontdesk-assets">(.*?)</script>',
                                       page.text).group(1))
        assert set(listing) >= {"i18n/en.json", "i18n/ru.json", "i18n/uk.json", "i18n/kk.json", "panel.js"}
        assert not any(name.endswith(".html") for name in listing)
        ru = await client.get(listing["i18n/ru.json"])
        assert ru.headers["cache-control"].endswith("immutable") and "{" in ru.text

        # A stale hash (an old page, a cache that outlived a deploy): today's file, not pinned.
        stale = await client.get("/widget/panel.0123456789.js")
        assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
        assert (await client.get("/widget/nothing.0123456789.js")).status_code == 404
        # Pages are not files here: only the panel route serves them, with its policy.
        for sneaky in ["/widget//panel.html", "/widget/panel.0123456789.html", "/widget/../server/app.py",
                       "/widget/%2e%2e/server/app.py", "/widget/.hidden", "/static/../pyproject.toml"]:
            assert (await client.get(sneaky)).status_code == 404, sneaky


async def test_return_visits_revalidate_with_304(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        embed = await client.get("/embed.js")
        assert embed.headers["cache-control"] == "public, max-age=300"
        assert embed.headers["access-control-allow-origin"] == "*"
        again = await client.get("/embed.js", headers={"If-None-Match": embed.headers["etag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == embed.headers["etag"]
        assert again.headers["cache-control"] == "public, max-age=300"
        since = await client.get("/embed.js", headers={"If-Modified-Since": embed.headers["last-modified"]})
        assert since.status_code == 304
        other = await client.get("/embed.js", headers={"If-None-Match": '"0000000000"'})
        assert other.status_code == 200

        url = f"/widget/panel.html?site={site.key}"
        page = await client.get(url)
        again = await client.get(url, headers={"If-None-Match": page.headers["etag"]})
        assert again.status_code == 304 and again.headers["content-security-policy"] == page.headers[
            "content-security-policy"]
        # Another site's policy is another page: its ETag does not match.
        other_site = await make_site(sqlite_server, origins=["https://elsewhere.test"])
        elsewhere = await client.get(f"/widget/panel.html?site={other_site.key}",
                                     headers={"If-None-Match": page.headers["etag"]})
        assert elsewhere.status_code == 200 and "https://elsewhere.test" in elsewhere.headers[
            "content-security-policy"]

        head = await client.head("/widget/panel.js", headers={"Accept-Encoding": "br"})
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 1000


async def test_console_pages_name_hashed_files(sqlite_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        login = await client.get("/console/login")
        references = hashed_references(login.text)
        assert any(re.search(r"^/static/console/console\.[0-9a-f]{10}\.js$", u) for u in references), references
        assert any(re.search(r"^/static/console/console\.[0-9a-f]{10}\.css$", u) for u in references), references
        for url in references:
            response = await client.get(url)
            assert response.status_code == 200 and response.headers["cache-control"].endswith("immutable"), url


async def test_each_coding_has_its_own_etag_and_any_of_them_revalidates(sqlite_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        tags = {}
        for coding in ("br", "gzip", "identity"):
            tags[coding] = (await client.get("/widget/panel.js", headers={"Accept-Encoding": coding})).headers["etag"]
        assert tags["br"].endswith('-br"') and tags["gzip"].endswith('-gzip"') and len(set(tags.values())) == 3
        # A copy held in one coding is still current when the browser now takes another.
        again = await client.get("/widget/panel.js", headers={"Accept-Encoding": "gzip", "If-None-Match": tags["br"]})
        assert again.status_code == 304 and again.headers["etag"] == tags["gzip"]
        assert (await client.get("/widget/a%00.js")).status_code == 404
        assert (await client.get("/static/console/%00")).status_code == 404
