"""A logged-in user on two devices (two Chromium contexts, a real server): the site vouches
for them with user_id + user_hash, so the second device shows the conversation the first
one started, a message from either is seen on both and reaches the operator in one
conversation; a callback asked for on one device is pending in the other's Callback tab,
which can cancel it. A visitor with the user id but a wrong hash sees none of it."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import expect

from server.services import leads
from tests.browser.conftest import Demo, HostSite
from tests.browser.helpers import (
    TIMEOUT, ConsoleErrors, console_thread, open_conversation, open_widget, operator_login, operator_says,
    visitor_says, visitor_thread,
)


def identity_secret(demo: Demo, key: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "show-identity-secret", key, "--data-dir", str(demo.data_dir)],
        capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r": ([0-9a-f]{64})$", out, re.M)
    assert match, out
    return match.group(1)


def device(browser: Any, host: HostSite, key: str, user_id: str, user_hash: str) -> tuple[Any, Any, Any, ConsoleErrors]:
    """A browser of its own, on the user's account page; the widget opened once the page's
    identify has been answered."""
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host.origin}/logged-in.html?" + urlencode({"key": key, "user_id": user_id, "user_hash": user_hash}))
    page.wait_for_function("window.identified.length === 1", timeout=TIMEOUT)
    return context, page, open_widget(page), errors


def test_a_verified_users_two_devices_share_one_conversation(browser: Any, demo: Demo, host_site: HostSite) -> None:
    key = demo.add_site(host_site.origin, "Verified devices")
    secret = identity_secret(demo, key)
    good = leads.user_hash(secret, "customer-17")

    laptop_ctx, laptop, on_laptop, laptop_errors = device(browser, host_site, key, "customer-17", good)
    assert laptop.evaluate("window.identified[0].accepted") == ["user_id"]
    visitor_says(on_laptop, "Where is my order 1017?")
    expect(on_laptop.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)

    # Someone with the user id but not the site's hash: refused, and shown nothing of the user's.
    stranger_ctx, stranger, on_stranger, _ = device(browser, host_site, key, "customer-17", leads.user_hash("0" * 64, "customer-17"))
    assert list(stranger.evaluate("window.identified[0].refused")) == ["user_hash"]
    visitor_says(on_stranger, "I am someone else")
    expect(on_stranger.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    expect(visitor_thread(on_stranger).filter(has_text="Where is my order 1017?")).to_have_count(0)

    # The same user on their phone: the conversation from the laptop is there.
    phone_ctx, phone, on_phone, phone_errors = device(browser, host_site, key, "customer-17", good)
    expect(visitor_thread(on_phone).filter(has_text="Where is my order 1017?")).to_have_count(1, timeout=TIMEOUT)
    visitor_says(on_phone, "Writing from my phone now")
    expect(on_phone.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    expect(visitor_thread(on_laptop).filter(has_text="Writing from my phone now")).to_have_count(1, timeout=TIMEOUT)

    # The operator has both in one conversation, and the answer reaches both devices.
    operator_ctx = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    console = operator_login(operator_ctx, demo.server_url, demo.email, demo.password)
    open_conversation(console, "Writing from my phone now")
    expect(console_thread(console)).to_have_text(["Where is my order 1017?", "Writing from my phone now"], timeout=TIMEOUT)
    operator_says(console, "It left the warehouse today")
    for on_device in (on_laptop, on_phone):
        expect(visitor_thread(on_device).filter(has_text="It left the warehouse today")).to_have_count(1, timeout=TIMEOUT)
    expect(visitor_thread(on_stranger).filter(has_text="It left the warehouse today")).to_have_count(0)
    expect(visitor_thread(on_stranger).filter(has_text="Writing from my phone now")).to_have_count(0)

    # The phone keeps it on its next page load.
    phone.reload()
    again = open_widget(phone)
    expect(visitor_thread(again).filter(has_text="It left the warehouse today")).to_have_count(1, timeout=TIMEOUT)
    assert laptop_errors.errors == [] and phone_errors.errors == []
    for ctx in (laptop_ctx, stranger_ctx, phone_ctx, operator_ctx):
        ctx.close()


def callback_tab(frame: Any) -> Any:
    """Opens the panel's "Call me back" tab; returns its view."""
    frame.locator("#tab-callback").click()
    view = frame.locator("#view-callback")
    expect(view.locator(".cb-days select option").first).to_be_attached(timeout=TIMEOUT)
    return view


def pending_shown(page: Any, frame: Any) -> tuple[list[Any], Any]:
    """Opens the Callback tab and returns the pending requests its list was drawn from."""
    with page.expect_response(lambda r: r.url.endswith("/callbacks/pending"), timeout=TIMEOUT) as answer:
        view = callback_tab(frame)
    return list(answer.value.json()["callbacks"]), view


def test_a_verified_users_pending_callback_shows_and_cancels_on_another_device(
    browser: Any, demo: Demo, host_site: HostSite
) -> None:
    key = demo.add_site(
        host_site.origin, "Verified callbacks", "--callbacks", "--callback-tz", "Asia/Almaty",
        "--callback-hours", "mon-sun=00:00-24:00", "--callback-lead-minutes", "0", "--default-country", "KZ",
    )
    good = leads.user_hash(identity_secret(demo, key), "customer-31")

    # On the laptop the user asks to be called on the last day offered (far enough that it
    # does not fall due and ring in another test's console).
    laptop_ctx, laptop, on_laptop, laptop_errors = device(browser, host_site, key, "customer-31", good)
    view = callback_tab(on_laptop)
    day = view.locator(".cb-days select")
    day.select_option(index=day.locator("option").count() - 1)
    view.locator(".cb-times input[type=radio]").first.check()
    view.locator("#cb-phone").fill("8 (701) 765-43-21")
    view.locator("#cb-name").fill("Customer 31")
    view.locator(".cb-submit").click()
    expect(view.locator(".cb-ok")).to_contain_text("+7 701 765 43 21", timeout=TIMEOUT)
    booked = view.locator(".cb-pending .cb-row")
    expect(booked).to_have_count(1, timeout=TIMEOUT)
    booked_text = booked.inner_text()

    # Someone with the user id but not the site's hash sees nothing of it.
    stranger_ctx, stranger, on_stranger, _ = device(
        browser, host_site, key, "customer-31", leads.user_hash("0" * 64, "customer-31")
    )
    listed, stranger_view = pending_shown(stranger, on_stranger)
    assert listed == []
    expect(stranger_view.locator(".cb-pending .cb-row")).to_have_count(0)

    # The same user on their phone: the request from the laptop is in the Callback tab, as the
    # laptop shows it; the phone cancels it.
    phone_ctx, phone, on_phone, phone_errors = device(browser, host_site, key, "customer-31", good)
    listed, phone_view = pending_shown(phone, on_phone)
    assert len(listed) == 1
    row = phone_view.locator(".cb-pending .cb-row")
    expect(row).to_have_count(1, timeout=TIMEOUT)
    assert row.inner_text() == booked_text
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(0, timeout=TIMEOUT)

    # Gone on the laptop too, on its next page load.
    laptop.reload()
    laptop.wait_for_function("window.identified.length === 1", timeout=TIMEOUT)
    listed, laptop_view = pending_shown(laptop, open_widget(laptop))
    assert listed == []
    expect(laptop_view.locator(".cb-pending .cb-row")).to_have_count(0)
    assert laptop_errors.errors == [] and phone_errors.errors == []
    for ctx in (laptop_ctx, stranger_ctx, phone_ctx):
        ctx.close()
