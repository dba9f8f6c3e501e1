"""The widget speaks the visitor's language (browser, site, or their own choice in the
panel), the console each operator's, the demo site all four; plural rules agree with Babel."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from server.locales import LANGUAGES, date_names, plural_category
from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.helpers import (
    TIMEOUT, launcher, open_conversation, open_widget, operator_login, visitor_says,
)

ROOT = Path(__file__).resolve().parents[2]


def _catalog(folder: str, lang: str) -> dict[str, Any]:
    return json.loads((ROOT / folder / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def plain_site(demo: Demo, host_site: HostSite) -> str:
    """A site with no language of its own, on a page whose snippet has no data-lang."""
    return demo.add_site(host_site.origin, "Кав’ярня «Світанок» — Almaty & Lviv")


def test_russian_browser_gets_a_russian_widget(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="ru-RU")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    expect(launcher(page)).to_have_accessible_name("Открыть чат", timeout=TIMEOUT)
    frame = open_widget(page)
    expect(frame.locator("#input")).to_have_attribute("placeholder", "Введите сообщение", timeout=TIMEOUT)
    ctx.close()


def test_site_can_force_its_language(browser: Any, demo: Demo, host_site: HostSite) -> None:
    forced_key = demo.add_site(host_site.origin, "Russian only", "--language", "ru")
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={forced_key}")
    expect(launcher(page)).to_have_accessible_name("Открыть чат", timeout=TIMEOUT)
    frame = open_widget(page)
    expect(frame.locator("#input")).to_have_attribute("placeholder", "Введите сообщение", timeout=TIMEOUT)
    ctx.close()


def test_demo_greets_a_russian_visitor_in_russian(browser: Any, demo: Demo) -> None:
    from server.demo import DEMO_GREETINGS

    for locale, greeting in [("ru-RU", DEMO_GREETINGS["ru"]), ("en-US", DEMO_GREETINGS["en"])]:
        ctx = browser.new_context(locale=locale)
        page = ctx.new_page()
        page.goto(demo.demo_url + "/")
        frame = open_widget(page)
        first = frame.locator("#thread li.msg").first
        expect(first.locator(".bubble")).to_have_text(greeting, timeout=TIMEOUT)
        expect(first.locator(".who")).to_have_text("Aurora Coffee Roasters")
        expect(frame.locator("#site-name")).to_have_text("Aurora Coffee Roasters")
        ctx.close()
    assert DEMO_GREETINGS["ru"].startswith("Здравствуйте")


def test_switching_language_in_the_panel_switches_the_greeting(browser: Any, demo: Demo) -> None:
    """The owner's greeting follows the visitor's choice in the panel's menu, like every
    other text of the panel, and the launcher's name follows it too."""
    from server.demo import DEMO_GREETINGS

    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    frame = open_widget(page)
    greeting = frame.locator("#thread li.msg").first.locator(".bubble")
    expect(greeting).to_have_text(DEMO_GREETINGS["en"], timeout=TIMEOUT)
    for lang in ("uk", "kk", "ru", "en"):
        frame.locator("#lang").select_option(lang)
        expect(greeting).to_have_text(DEMO_GREETINGS[lang], timeout=TIMEOUT)
        expect(frame.locator("#input")).to_have_attribute("placeholder", _catalog("widget", lang)["placeholder"])
        expect(launcher(page)).to_have_accessible_name(_catalog("widget", lang)["launcher_close"])
    expect(frame.locator("#thread li.msg:not([hidden]) .bubble", has_text=DEMO_GREETINGS["en"])).to_have_count(1)
    ctx.close()


@pytest.mark.parametrize(("locale", "lang"), [("uk-UA", "uk"), ("kk-KZ", "kk")])
@pytest.mark.parametrize("width", [360, 1280])
def test_widget_speaks_ukrainian_and_kazakh(
    browser: Any, host_site: HostSite, plain_site: str, locale: str, lang: str, width: int
) -> None:
    texts = _catalog("widget", lang)
    ctx = browser.new_context(locale=locale, viewport={"width": width, "height": 640 if width == 360 else 800})
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={plain_site}")
    expect(launcher(page)).to_have_accessible_name(texts["launcher_open"], timeout=TIMEOUT)
    frame = open_widget(page)
    expect(frame.locator("html")).to_have_attribute("lang", lang)
    expect(frame.locator("#input")).to_have_attribute("placeholder", texts["placeholder"])
    expect(frame.locator("#close")).to_have_accessible_name(texts["close"])
    expect(frame.locator("#send")).to_have_accessible_name(texts["send"])
    expect(frame.locator("#lang")).to_have_accessible_name(texts["language"])
    expect(frame.locator("#lang")).to_have_value(lang)
    expect(frame.locator("#status-text")).to_have_text(re.compile(f"^({texts['online']}|{texts['offline']})$"))
    visitor_says(frame, "Добрий день! Сәлеметсіз бе!")
    meta = frame.locator("#thread li.msg.me .meta").last
    expect(meta).to_contain_text(texts["sent"], timeout=TIMEOUT)
    assert re.match(r"^\d{2}:\d{2} · ", meta.inner_text()), meta.inner_text()  # 24-hour time, as Kyiv and Almaty write it
    expect(launcher(page)).to_have_accessible_name(texts["launcher_close"])
    # Nothing cut off or spilling sideways: the header's controls, the notice, the composer.
    overflow = frame.locator("body").evaluate("""() => {
        const out = [];
        if (document.documentElement.scrollWidth > innerWidth) out.push('page ' + document.documentElement.scrollWidth);
        for (const el of document.querySelectorAll('#lang, #close, #send, #input, #notice, #status-text, .meta')) {
            const r = el.getBoundingClientRect();
            if (el.offsetParent && (r.right > innerWidth + 0.5 || r.left < -0.5)) out.push(el.id || el.className);
            if (el.id !== 'input' && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible') out.push('clipped ' + (el.id || el.className));
        }
        return out;
    }""")
    assert overflow == []
    screenshot(page, f"widget-{lang}-{width}")
    ctx.close()


def test_visitor_switches_language_in_the_panel_and_it_is_remembered(
    browser: Any, host_site: HostSite, plain_site: str
) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={plain_site}")
    frame = open_widget(page)
    visitor_says(frame, "hello before switching")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    frame.locator("#lang").select_option("kk")
    kk = _catalog("widget", "kk")
    expect(frame.locator("#input")).to_have_attribute("placeholder", kk["placeholder"], timeout=TIMEOUT)
    expect(frame.locator("html")).to_have_attribute("lang", "kk")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text(kk["sent"])  # drawn messages too
    expect(launcher(page)).to_have_accessible_name(kk["launcher_close"])
    page.reload()
    expect(launcher(page)).to_have_accessible_name(kk["launcher_open"], timeout=TIMEOUT)  # once the panel has loaded
    frame = open_widget(page)
    expect(frame.locator("#input")).to_have_attribute("placeholder", kk["placeholder"], timeout=TIMEOUT)
    frame.locator("#lang").select_option("en")  # by keyboard works the same: it is a native <select>
    expect(frame.locator("#input")).to_have_attribute("placeholder", "Type a message", timeout=TIMEOUT)
    ctx.close()


def test_widget_plural_rules_match_babel(browser: Any) -> None:
    page = browser.new_page()
    page.set_content("<!doctype html><title>plural</title>")
    page.add_script_tag(path=str(ROOT / "widget" / "plural.js"))
    got = page.evaluate(
        "langs => Object.fromEntries(langs.map(l => [l, Array.from({length: 201}, (_, n) => fdPlural.category(l, n))]))",
        list(LANGUAGES),
    )
    assert got == {lang: [plural_category(lang, n) for n in range(201)] for lang in LANGUAGES}
    for lang, expected in {"ru": "one few many many one few many", "uk": "one few many many one few many",
                           "kk": "one other other other other other other"}.items():
        assert " ".join(got[lang][n] for n in (1, 2, 5, 11, 21, 22, 25)) == expected
    entry = _catalog("widget", "uk")["too_long"]
    said = page.evaluate("([e, n]) => fdPlural.text(e, 'uk', {count: n + 1, max: n})", [entry, 22])
    assert said == "Повідомлення задовге: 23 з 22 символів"
    page.close()


@pytest.fixture(scope="module")
def polyglot(demo: Demo) -> Iterator[tuple[str, str]]:
    """An operator of their own: their language choice must not change the other tests' console."""
    email, password = "polyglot@example.com", "polyglot-password-1"
    subprocess.run(
        [sys.executable, "-m", "server.cli", "create-operator", email, "--name", "Айгерім", "--password", password,
         "--data-dir", str(demo.data_dir)],
        capture_output=True, text=True, check=True,
    )
    yield email, password


def _choose_console_language(console: Any, lang: str) -> None:
    console.locator("#fd-lang").select_option(lang)
    console.locator("form.fd-langs button[type=submit]").click()
    expect(console.locator("html")).to_have_attribute("lang", lang, timeout=TIMEOUT)


def test_console_follows_each_operators_choice(browser: Any, demo: Demo, polyglot: tuple[str, str]) -> None:
    email, password = polyglot
    ctx = browser.new_context(locale="en-US")
    console = operator_login(ctx, demo.server_url, email, password)
    visitor_ctx = browser.new_context(locale="uk-UA")
    visitor = visitor_ctx.new_page()
    visitor.goto(demo.demo_url + "/")
    visitor_says(open_widget(visitor), "Скільки коштує доставка до Львова?")
    for lang in ("uk", "kk"):
        texts = _catalog("server", lang)
        _choose_console_language(console, lang)
        expect(console.locator("#fd-list-heading")).to_have_text(texts["inbox.conversations"])
        expect(console.locator("#fd-conn")).to_have_text(texts["conn.connected"], timeout=TIMEOUT)
        expect(console.locator("nav.fd-nav a").first).to_have_text(texts["nav.inbox"])
        item = console.locator("#fd-conv-list button.fd-conv-item", has_text="Скільки коштує доставка")
        # The unread count, in the plural form the number needs.
        expect(item.locator(".fd-badge .fd-sr")).to_have_text(re.compile(r"^\d+ "), timeout=TIMEOUT)
        sr = item.locator(".fd-badge .fd-sr").inner_text()
        n = int(sr.split()[0])
        entry = texts["inbox.unread"]
        assert sr == entry[plural_category(lang, n)].format(count=n)
        screenshot(console, f"console-{lang}")
    # A date in Kazakh, from CLDR (Chromium alone would print "M03 5").
    open_conversation(console, "Скільки коштує доставка")
    started = console.locator("#fd-d-started").inner_text()
    assert "ж." in started and any(month in started for month in date_names("kk")["months"]), started
    assert not re.search(r"M\d\d", started), started
    expect(console.locator("#fd-thread .fd-msg-body").first).to_be_visible(timeout=TIMEOUT)
    # Another device, another browser language: the operator's choice follows them.
    other = browser.new_context(locale="ru-RU")
    again = operator_login(other, demo.server_url, email, password)
    expect(again.locator("html")).to_have_attribute("lang", "kk")
    expect(again.locator("#fd-list-heading")).to_have_text(_catalog("server", "kk")["inbox.conversations"])
    _choose_console_language(again, "en")
    other.close()
    visitor_ctx.close()
    ctx.close()


def test_login_page_language_menu(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(demo.server_url + "/console/login")
    _choose_console_language(page, "uk")
    expect(page.locator("h1")).to_have_text("Вхід у Frontdesk")
    expect(page).to_have_url(demo.server_url + "/console/login")
    ctx.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_demo_site_speaks_every_language_and_passes_axe(browser: Any, demo: Demo, lang: str) -> None:
    texts = _catalog("demo_site", lang)
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    for path, heading in (("/", "index.heading"), ("/pricing.html", "pricing.title"), ("/contact.html", "contact.title")):
        page.goto(f"{demo.demo_url}{path}?lang={lang}")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("h1")).to_have_text(texts[heading])
        expect(page.locator("footer")).to_have_text(texts["footer"])
        expect(launcher(page)).to_have_accessible_name(_catalog("widget", lang)["launcher_open"], timeout=TIMEOUT)
        violations = [f"{v['id']}: {v['help']}" for v in Axe().run(page).response["violations"]]
        assert violations == [], (path, violations)
    # The switcher's links keep the page: Contact in English → Contact in this language.
    page.goto(f"{demo.demo_url}/contact.html?lang=en")
    page.locator(f"nav.langs a[hreflang={lang}]").click()
    expect(page).to_have_url(f"{demo.demo_url}/contact.html?lang={lang}")
    if lang == "uk":
        expect(page.locator("main")).to_contain_text("понеділок–субота, 08:00–18:00")  # weekdays from CLDR
    if lang == "kk":
        frame = open_widget(page)
        expect(frame.locator("#input")).to_have_attribute("placeholder", "Хабарлама жазыңыз", timeout=TIMEOUT)
    ctx.close()
