"""Allowed origins: exact ones and https://*.example.com subdomain patterns, checked the
same way by the widget's HTTP calls, its websocket and the panel's framing policy."""

from __future__ import annotations

import httpx
import pytest
import websockets

from server.cli import main
from tests.clients import connect_visitor, start_visitor
from tests.factories import make_site
from tests.servers import ServerProcess


CASES = [
    ("https://shop.aurora.example", True),  # one level down
    ("https://eu.shop.aurora.example", True),  # deeper
    ("https://aurora.example", False),  # the bare domain is not a subdomain of itself
    ("http://shop.aurora.example", False),  # scheme differs
    ("https://shop.aurora.example:8443", False),  # port differs
    ("https://shopaurora.example", False),  # a lookalike, not a subdomain
    ("https://shop.aurora.example.evil.test", False),
    ("https://*.aurora.example", False),  # a pattern is not an origin a browser sends
]


async def test_widget_config_from_a_subdomain_pattern(sqlite_server: ServerProcess) -> None:
    # Written by hand: upper case, the default port, a trailing slash; stored normalised.
    site = await make_site(sqlite_server, origins=["HTTPS://*.Aurora.example:443/"])
    assert site.allowed_origins == ("https://*.aurora.example",)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        for origin, allowed in CASES:
            config = await client.get(f"/api/widget/v1/sites/{site.key}/config", headers={"Origin": origin})
            preflight = await client.options(
                f"/api/widget/v1/sites/{site.key}/visitors",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            if allowed:
                assert config.status_code == 200 and config.json()["site"]["key"] == site.key, (origin, config.text)
                assert preflight.status_code == 204, origin
            else:
                assert config.status_code == 403, (origin, config.text)
                assert config.json()["error"]["code"] == "origin_not_allowed", origin
                assert preflight.status_code == 403, origin


async def test_visitor_socket_and_panel_follow_the_pattern(server: ServerProcess) -> None:
    site = await make_site(server, origins=["https://*.aurora.example", "https://aurora.example"])
    assert site.allowed_origins == ("https://*.aurora.example", "https://aurora.example")

    start = await start_visitor(server, site.key, "https://eu.shop.aurora.example")
    client, welcome = await connect_visitor(server, site.key, "https://shop.aurora.example", start["token"])
    await client.close()
    assert welcome["type"] == "welcome"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{server.ws_url}/ws/visitor?site={site.key}", origin="https://aurora.example.evil.test")
    assert refused.value.response.status_code == 403

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        panel = await http.get(f"/widget/panel.html?site={site.key}")
    # CSP reads the pattern itself the same way: any subdomain, not the bare domain.
    assert "frame-ancestors https://*.aurora.example https://aurora.example" in panel.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("origin", "says"),
    [
        ("https://*", "whole left-most part"),
        ("*.aurora.example", "start the origin with https://"),
        ("https://*.com", "public suffix"),
        ("https://*.co.uk", "public suffix"),
        ("https://*.github.io", "public suffix"),
        ("https://*.localhost", "top-level domain"),
        ("https://shop.*.aurora.example", "whole left-most part"),
        ("https://*shop.aurora.example", "whole left-most part"),
        ("https://*.*.aurora.example", "whole left-most part"),
        ("https://*.127.0.0.1", "IP address"),
        ("https://*.aurora.example/shop", "no path"),
        ("https://shop aurora.example", "not a valid host name"),
        ("ftp://shop.aurora.example", "start the origin with https://"),
    ],
)
def test_bad_origins_are_refused_in_one_line(
    sqlite_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    origin: str, says: str,
) -> None:
    for name, value in sqlite_server.env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_code:
        main(["create-site", "Refused", "--origin", "https://fine.example", "--origin", origin])
    err = capsys.readouterr().err
    assert exit_code.value.code == 2
    assert err.count("\n") == 1 and err.startswith("frontdesk: error (origin): "), err
    assert origin.strip() in err and says in err, err


def test_a_second_site_of_the_same_name_is_refused_naming_the_first(
    sqlite_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in sqlite_server.env.items():
        monkeypatch.setenv(name, value)
    assert main(["create-site", "Twin Roasters", "--origin", "https://twin.example"]) == 0
    first_key = next(line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("key:"))

    with pytest.raises(SystemExit) as exit_code:
        main(["create-site", "Twin Roasters", "--origin", "https://other.example"])
    err = capsys.readouterr().err
    assert exit_code.value.code == 2 and err.count("\n") == 1, err
    assert first_key in err and "--allow-duplicate-name" in err, err

    assert main(["create-site", "Twin Roasters", "--origin", "https://other.example", "--allow-duplicate-name"]) == 0
    second_key = next(line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("key:"))
    assert second_key != first_key
