"""Leads, the pure rules: phones and emails as people type them, user agents, geolocation on
real addresses, anonymised addresses, verified identities (HMAC), trusted proxies, pages."""

from __future__ import annotations

import hashlib
import hmac
import time
from ipaddress import ip_network
from pathlib import Path

import pytest

from server.errors import Invalid, TooLarge
from server.services import fields, leads
from server.services.geo import Geolocator, anonymize
from server.services.useragents import parse
from server.store.sites import Site
from server.web.addresses import forwarded_client


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("8 (916) 123-45-67", "RU", "+79161234567"),     # Russian mobile, trunk 8, as typed in Russia
        ("+7 916 123 45 67", None, "+79161234567"),      # with the country code: no region needed
        ("8 (701) 123-45-67", "KZ", "+77011234567"),     # Kazakh mobile (shares +7 with Russia)
        ("87011234567", "KZ", "+77011234567"),
        ("+7 701 123 4567", None, "+77011234567"),
        ("067 123 4567", "UA", "+380671234567"),          # Ukrainian mobile, trunk 0
        ("+380 (44) 123-45-67", None, "+380441234567"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415-555-2671", "GB", "+14155552671"),         # the code given wins over the region
        ("07400 123456", "GB", "+447400123456"),
        ("+44 20 7946 0958", None, "+442079460958"),
    ],
)
def test_phones_as_people_type_them_are_stored_e164(typed: str, region: str | None, stored: str) -> None:
    assert fields.phone(typed, region=region) == stored


@pytest.mark.parametrize(
    ("typed", "region"),
    [
        ("(415) 555-2671", None),      # no country code and no region: cannot be read
        ("8 (916) 123-45-67", None),
        ("12345", "RU"),                # too short for anywhere
        ("+7 000 000 00 00", None),     # not a number of any plan
        ("call me", "KZ"),
        ("+" + "1" * 40, None),          # longer than any number
    ],
)
def test_phones_that_are_not_numbers_are_refused_naming_the_field(typed: str, region: str | None) -> None:
    with pytest.raises((Invalid, TooLarge)) as caught:
        fields.phone(typed, region=region)
    assert caught.value.field == "phone"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Maria@Example.COM", "Maria@example.com"),       # the domain is normalised, the local part kept
        ("  anna.k+chat@mail.ru ", "anna.k+chat@mail.ru"),
        ("олег@пример.рф", "олег@пример.рф"),               # internationalised addresses are addresses
    ],
)
def test_emails_are_checked_without_dns_and_normalised(typed: str, stored: str) -> None:
    assert fields.email(typed) == stored


@pytest.mark.parametrize("typed", ["maria", "maria@", "@example.com", "maria@example", "a b@example.com",
                                   "x" * 65 + "@example.com", "<script>@example.com"])
def test_malformed_emails_are_refused(typed: str) -> None:
    with pytest.raises(Invalid) as caught:
        fields.email(typed)
    assert caught.value.field == "email"


@pytest.mark.parametrize(
    ("user_agent", "browser", "os", "device"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
         "Chrome 131", "Windows 10", "desktop"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.5 Mobile/15E148 Safari/604.1", "Mobile Safari 17", "iOS 17.5", "mobile"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133", "Linux", "desktop"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot 2", None, "bot"),
        ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
         "Mobile/15E148 Safari/604.1", "Mobile Safari 17", "iOS 17.5", "tablet"),
    ],
)
def test_user_agents_name_browser_os_and_device(user_agent: str, browser: str, os: str | None, device: str) -> None:
    parsed = parse(user_agent)
    assert (parsed.browser, parsed.os, parsed.device) == (browser, os, device)


def test_a_missing_or_garbage_user_agent_is_nothing_known() -> None:
    assert parse(None).browser is None
    assert parse("<img src=x onerror=alert(1)>").browser is None  # "Other": not a browser we can name


@pytest.mark.parametrize(
    ("ip", "country"),
    [("8.8.8.8", "US"), ("2.132.0.1", "KZ"), ("5.255.255.5", "RU"), ("178.150.0.1", "UA"), ("2a02:2378::1", "UA"),
     ("127.0.0.1", None), ("10.1.2.3", None), ("not an address", None), (None, None)],
)
def test_addresses_geolocate_offline_with_the_default_database(ip: str | None, country: str | None) -> None:
    assert Geolocator().lookup(ip).country == country


def test_geolocation_and_parsing_cost_microseconds_once_warm() -> None:
    """Why they may run in a thread rather than need a process: measured here, printed for
    docs/benchmarks.md ("Leads")."""
    geo = Geolocator()
    geo.lookup("8.8.8.8")
    n = 2000
    started = time.perf_counter()
    for i in range(n):
        geo.lookup(f"5.{i % 250}.{i % 199}.1")
    per_lookup = (time.perf_counter() - started) / n
    agents = [f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/{100 + i}.0.0.0 Safari/537.36"
              for i in range(200)]
    started = time.perf_counter()
    for agent in agents:
        parse(agent)
    per_parse = (time.perf_counter() - started) / len(agents)
    print(f"geolocation {per_lookup * 1e6:.1f} µs, uncached UA parse {per_parse * 1e6:.0f} µs")
    assert per_lookup < 0.001 and per_parse < 0.01


@pytest.mark.parametrize(
    ("ip", "stored"),
    [("203.0.113.77", "203.0.113.0"), ("2001:db8:abcd:12:3456:789a:bcde:f012", "2001:db8:abcd::"),
     ("::ffff:203.0.113.77", "203.0.113.0"), (None, None)],
)
def test_anonymised_addresses_drop_the_host_part(ip: str | None, stored: str | None) -> None:
    assert anonymize(ip) == stored


def test_an_anonymised_address_still_geolocates_from_the_full_one() -> None:
    site = Site(1, "k", "n", (), "#000000", "auto", None, {}, anonymize_ips=True)
    seen = leads._arrival(Geolocator(), "2.132.0.1", None, site.anonymize_ips)
    assert (seen.ip, seen.place.country) == ("2.132.0.0", "KZ")


SECRET = "a" * 64
SITE = Site(1, "k", "n", (), "#000000", "auto", None, {}, identity_secret=SECRET)


def _hash(user_id: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def test_a_user_id_with_its_hmac_is_accepted() -> None:
    assert leads.verified_user(SITE, "user-42", _hash("user-42")) == "user-42"
    assert leads.verified_user(SITE, "user-42", _hash("user-42").upper()) == "user-42"  # hex in either case


@pytest.mark.parametrize(
    ("user_id", "given", "field"),
    [
        ("user-42", None, "user_hash"),                                   # no hash at all
        ("user-42", _hash("user-43"), "user_hash"),                        # another user's hash
        ("user-42", _hash("user-42", "b" * 64), "user_hash"),              # another site's secret
        ("user-42", "", "user_hash"),
        ("", _hash(""), "user_id"),
        ("u" * 201, _hash("u" * 201), "user_id"),
        (42, _hash("42"), "user_id"),                                      # not a string
    ],
)
def test_a_user_id_without_a_valid_hmac_is_refused(user_id: object, given: object, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        leads.verified_user(SITE, user_id, given)
    assert caught.value.field == field


PROXIES = (ip_network("10.0.0.0/8"), ip_network("127.0.0.2/32"))


def test_a_direct_client_cannot_forge_its_address() -> None:
    assert forwarded_client("203.0.113.9", ["8.8.8.8"], PROXIES) == "203.0.113.9"


def test_one_trusted_proxy_names_the_client() -> None:
    assert forwarded_client("127.0.0.2", ["2.132.0.1"], PROXIES) == "2.132.0.1"


def test_two_trusted_proxies_name_the_client_and_not_what_it_wrote() -> None:
    # The client wrote 8.8.8.8 itself; the outer proxy saw it as 2.132.0.1, the inner one saw the outer.
    assert forwarded_client("127.0.0.2", ["8.8.8.8", "2.132.0.1", "10.1.1.1"], PROXIES) == "2.132.0.1"


def test_utm_tags_come_from_the_landing_url() -> None:
    tags = leads.utm_tags("https://shop.test/?utm_source=google&utm_medium=cpc&utm_campaign=%3Cb%3Espring%3C%2Fb%3E&x=1")
    assert tags == {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "<b>spring</b>",
                    "utm_term": None, "utm_content": None}


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>", "/relative", "http://", 42,
                                 "https://x.test/" + "a" * 2100])
def test_a_page_must_be_an_http_url_of_bounded_size(url: object) -> None:
    with pytest.raises((Invalid, TooLarge)):
        leads.check_page({"url": url})


def test_page_titles_are_cut_and_odd_values_dropped() -> None:
    page = leads.check_page({"url": "https://x.test/a", "title": "T" * 400 + "\x00", "referrer": "android-app://x",
                             "timezone": "Asia/Almaty<script>"})
    assert (len(page["title"]), page["referrer"], page["timezone"]) == (300, None, None)
    assert leads.check_page({"url": "https://x.test/", "timezone": "Asia/Almaty"})["timezone"] == "Asia/Almaty"


def test_create_site_takes_the_lead_options_and_shows_the_identity_secret(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "FRONTDESK_DATA_DIR": str(tmp_path), "FRONTDESK_PUBLIC_URL": "https://chat.example.com"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "server.cli", *args], env=env, capture_output=True, text=True,
                              timeout=60)

    created = run("create-site", "Shop", "--origin", "https://shop.example", "--default-country", "kz",
                  "--prechat", "required", "--prechat-fields", "phone,name", "--anonymize-ips")
    assert created.returncode == 0, created.stderr
    secret = re.search(r"^identity secret: ([0-9a-f]{64})$", created.stdout, re.M)
    key = re.search(r"^key: (\S+)$", created.stdout, re.M)
    assert secret and key, created.stdout
    shown = run("show-identity-secret", key.group(1))
    assert shown.returncode == 0 and secret.group(1) in shown.stdout
    bad = run("create-site", "Shop 2", "--origin", "https://shop.example", "--default-country", "Kazakhstan")
    assert bad.returncode == 2 and "(default_country)" in bad.stderr and "two-letter code" in bad.stderr
    bad = run("create-site", "Shop 3", "--origin", "https://shop.example", "--prechat-fields", "name,age")
    assert bad.returncode == 2 and "(prechat_fields)" in bad.stderr
    unknown = run("show-identity-secret", "fd_nope")
    assert unknown.returncode == 2 and "(site)" in unknown.stderr


def test_a_city_database_record_in_either_layout_gives_region_and_city() -> None:
    from server.services.geo import _from_record

    dbip = _from_record({"city": "Almaty", "country_code": "KZ", "state1": "Almaty"}, "KZ")
    maxmind = _from_record({"country": {"iso_code": "UA"}, "city": {"names": {"en": "Kyiv"}},
                            "subdivisions": [{"names": {"en": "Kyiv City"}}]}, None)
    assert (dbip.country, dbip.region, dbip.city) == ("KZ", "Almaty", "Almaty")
    assert (maxmind.country, maxmind.region, maxmind.city) == ("UA", "Kyiv City", "Kyiv")
