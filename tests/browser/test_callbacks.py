"""A visitor books a callback in the widget, in Kazakh and in Russian, far from the
site's zone; the operator finds it in the queue at the site's local time, marks "no
answer", calls again later, then "done"."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.test_accessibility import _violations
from tests.browser.helpers import TIMEOUT, ConsoleErrors, launcher, operator_login, panel

WORDS = {
    "kk": {"tab": "Маған қоңырау шалыңыз", "short": "Бұл нөмір Қазақстан үшін тым қысқа.", "done": "Дайын!",
           "weekdays": ("дүйсенбі", "сейсенбі", "сәрсенбі", "бейсенбі", "жұма", "сенбі", "жексенбі")},
    "ru": {"tab": "Перезвоните мне", "short": "Этот номер слишком короткий для страны Казахстан.", "done": "Готово!",
           "weekdays": ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")},
}


# Watches the console's ring without replacing it: the real Notification and AudioContext run.
RING_SPY = """
window.__rang = [];
(function () {
  var RealNotification = window.Notification;
  function Watched(title, options) {
    window.__rang.push(["notification", title, options && options.body]);
    return new RealNotification(title, options);
  }
  Object.defineProperty(Watched, "permission", {get: function () { return RealNotification.permission; }});
  Watched.requestPermission = RealNotification.requestPermission.bind(RealNotification);
  window.Notification = Watched;
  var start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function () {
    window.__rang.push(["tone", this.frequency.value]);
    return start.apply(this, arguments);
  };
})();
"""


@pytest.fixture(scope="module")
def callback_site(demo: Demo, host_site: HostSite) -> str:
    return demo.add_site(
        host_site.origin, "Алма кофе", "--callbacks", "--callback-tz", "Asia/Almaty",
        "--callback-hours", "mon-sun=00:00-24:00", "--callback-lead-minutes", "0", "--default-country", "KZ",
    )


def book_in_widget(browser: Any, host_site: HostSite, key: str, lang: str, name: str) -> str:
    """Books the first slot of the second day offered; returns the slot's start (UTC ISO)."""
    words = WORDS[lang]
    ctx = browser.new_context(locale={"kk": "kk-KZ", "ru": "ru-RU"}[lang], timezone_id="Europe/Kyiv")
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host_site.origin}/plain.html?key={key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    launcher(page).click()
    frame = panel(page)
    tab = frame.locator("#tab-callback")
    expect(tab).to_have_text(words["tab"], timeout=TIMEOUT)
    tab.click()
    view = frame.locator("#view-callback")
    expect(view.locator(".cb-country")).to_have_value("KZ", timeout=TIMEOUT)
    day = view.locator(".cb-days select")
    expect(day.locator("option").first).to_be_attached(timeout=TIMEOUT)
    day.select_option(index=1)
    label = day.locator("option:checked").inner_text()
    assert any(w in label.lower() for w in words["weekdays"]), label  # the day named in the widget's language
    slot = view.locator(".cb-times input[type=radio]").first
    start = slot.get_attribute("value")
    assert start
    slot.check()
    view.locator("#cb-phone").fill("8 701 123")
    view.locator("#cb-name").fill(name)
    view.locator(".cb-submit").click()
    expect(view.locator("#cb-phone-error")).to_have_text(words["short"], timeout=TIMEOUT)
    view.locator("#cb-phone").fill("8 (701) 123-45-67")
    view.locator(".cb-submit").click()
    done = view.locator(".cb-ok")
    expect(done).to_contain_text(words["done"], timeout=TIMEOUT)
    expect(done).to_contain_text(label)  # "…, on <that day> at <time>"
    expect(view.locator(".cb-pending .cb-row")).to_have_count(1, timeout=TIMEOUT)
    screenshot(page, f"callback-booked-{lang}")
    if lang == "kk":  # axe checks the panel document on its own, the callback view open
        alone = ctx.new_page()
        alone.set_viewport_size({"width": 360, "height": 640})
        alone.goto(next(f for f in page.frames if "/widget/panel.html" in f.url).url)
        alone.locator("#tab-callback").click()
        expect(alone.locator("#view-callback .cb-pending .cb-row")).to_have_count(1, timeout=TIMEOUT)
        assert _violations(alone) == [], "the callback view"
        screenshot(alone, "callback-view-phone")
    # The refused number's 400 is logged by the browser as a failed load: expected, nothing else.
    unexpected = [e for e in errors.errors if "status of 400" not in e]
    assert not unexpected and not errors.dialogs, unexpected
    ctx.close()
    return start


def called(console: Any, name: str) -> Any:
    """The queue row of the callback asked for under ``name`` (its lead card may name
    another: the same phone number merged both visitors into one lead)."""
    return console.locator("li.fd-cb", has=console.locator(".fd-cb-name", has_text=name))


def test_visitors_book_and_the_operator_works_the_queue(
    browser: Any, demo: Demo, host_site: HostSite, callback_site: str
) -> None:
    booked = {lang: book_in_widget(browser, host_site, callback_site, lang, f"Visitor {lang}") for lang in ("kk", "ru")}

    ctx = browser.new_context(locale="en-US", timezone_id="America/Los_Angeles")
    console = ctx.new_page()
    errors = ConsoleErrors(console)
    console.goto(demo.server_url + "/console/login")
    console.locator("#fd-login-email").fill(demo.email)
    console.locator("#fd-login-password").fill(demo.password)
    console.locator("form.fd-login-form button[type=submit]").click()
    console.goto(demo.server_url + "/console/callbacks")
    for lang, start in booked.items():
        row = called(console, f"Visitor {lang}")
        expect(row).to_be_visible(timeout=TIMEOUT)
        local = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Almaty"))
        expect(row.locator(".fd-cb-due")).to_contain_text(local.strftime("%-I:%M"))  # the site's own clock
        expect(row.locator(".fd-cb-due")).to_contain_text("Almaty")
        expect(row.locator("a.fd-cb-tel")).to_have_attribute("href", "tel:+77011234567")

    assert _violations(console) == [], "the callback queue"
    row = called(console, "Visitor kk")
    row.get_by_role("button", name="in 15 min").click()
    row = called(console, "Visitor kk")
    expect(row.locator(".fd-cb-attempts")).to_contain_text("No answer", timeout=TIMEOUT)
    expect(row.locator(".fd-cb-badge")).to_be_visible()
    screenshot(console, "callback-queue")
    row.get_by_role("button", name="Done").click()
    expect(called(console, "Visitor kk")).to_have_count(0, timeout=TIMEOUT)
    expect(called(console, "Visitor ru")).to_have_count(1)
    assert not errors.errors, errors.errors
    ctx.close()


def test_a_callback_falling_due_rings_in_the_inbox(
    browser: Any, demo: Demo, host_site: HostSite, callback_site: str
) -> None:
    ctx = browser.new_context(locale="ru-RU")
    ctx.grant_permissions(["notifications"], origin=demo.server_url)
    ctx.add_init_script(RING_SPY)
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)  # on duty: ASAP is offered
    with httpx.Client(base_url=demo.server_url, headers={"Origin": host_site.origin}) as http:
        token = http.post(f"/api/widget/v1/sites/{callback_site}/visitors", json={}).json()["token"]
        booked = http.post(f"/api/widget/v1/sites/{callback_site}/callbacks", json={
            "token": token, "id": "ring-" + "x" * 20, "phone": "+77011234567", "name": "Ерлан", "asap": True,
        })
        assert booked.status_code == 201, booked.text
    toast = console.locator("#fd-cb-toast")
    expect(toast).to_have_text("Пора звонить: Ерлан", timeout=TIMEOUT)
    # The real desktop notification and tone (watched, not replaced): once each.
    rang = console.evaluate("window.__rang")
    assert rang == [["tone", 880], ["notification", "Пора звонить: Ерлан", "+77011234567"]], rang
    toast.click()
    expect(console.locator("li.fd-cb", has_text="Ерлан")).to_be_visible(timeout=TIMEOUT)
    expect(console.locator(".fd-cb-due_now li.fd-cb", has_text="Ерлан")).to_have_count(1)
    ctx.close()


def test_no_slot_left_says_so_and_offers_the_chat(browser: Any, demo: Demo, host_site: HostSite) -> None:
    from datetime import date, timedelta

    today = date.today()
    mondays = [today + timedelta(days=d) for d in range(0, 16) if (today + timedelta(days=d)).weekday() == 0]
    key = demo.add_site(
        host_site.origin, "Closed for a while", "--callbacks", "--callback-hours", "mon=09:00-09:30",
        "--callback-days-off", ",".join(d.isoformat() for d in mondays),
    )
    ctx = browser.new_context(locale="ru-RU")
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={key}")
    launcher(page).click()
    frame = panel(page)
    frame.locator("#tab-callback").click()
    view = frame.locator("#view-callback")
    expect(view.locator(".cb-closed")).to_contain_text("На ближайшие 14 дней свободного времени для звонка нет",
                                                        timeout=TIMEOUT)
    expect(view.locator(".cb-form")).to_be_hidden()
    view.get_by_role("button", name="Написать в чат").click()
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#tab-chat")).to_have_attribute("aria-selected", "true")
    ctx.close()
