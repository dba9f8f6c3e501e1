"""The widget's FAQ tab: a visitor finds an answer in their language (typed in the wrong
layout, in another word form), and "no, it did not help" takes the question to the chat."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.helpers import TIMEOUT, open_widget

CSV = (
    "question,answer,category,lang\n"
    '"Сколько стоит доставка?","**Бесплатно** от 5000 ₸ <img src=x onerror=alert(1)>",Доставка,ru\n'
    '"Жеткізу қанша тұрады?","5000 ₸-ден бастап **тегін**.",Жеткізу,kk\n'
)


@pytest.fixture(scope="module")
def faq_site(demo: Demo, host_site: HostSite, tmp_path_factory: pytest.TempPathFactory) -> str:
    key = demo.add_site(host_site.origin, "FAQ shop")
    path = tmp_path_factory.mktemp("faq") / "faq.csv"
    path.write_text(CSV, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "server.cli", "faq", "import", str(path), "--site", key,
                    "--data-dir", str(demo.data_dir)], check=True, capture_output=True)
    return key


@pytest.mark.parametrize("locale, query, answer, tab, no", [
    ("ru-RU", "ljcnfdrf", "Бесплатно", "Вопросы", "Нет"),
    ("kk-KZ", "жеткізіледі", "тегін", "Сұрақтар", "Жоқ"),
])
def test_faq_finds_the_answer_and_no_carries_the_question_to_chat(
    browser: Any, host_site: HostSite, faq_site: str, locale: str, query: str, answer: str, tab: str, no: str,
) -> None:
    ctx = browser.new_context(locale=locale)
    page = ctx.new_page()
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    page.goto(f"{host_site.origin}/plain.html?key={faq_site}")
    frame = open_widget(page)
    frame.get_by_role("tab", name=tab).click()
    frame.locator("#faq-q").fill(query)
    first = frame.locator(".faq-result").first
    expect(first).to_be_visible(timeout=TIMEOUT)
    first.click()
    expect(frame.locator(".faq-body strong")).to_contain_text(answer, timeout=TIMEOUT)
    assert frame.locator(".faq-body img").count() == 0
    screenshot(page, f"faq-answer-{locale}")
    frame.locator(".faq-back").click()  # back to the results, and the same answer again
    expect(first).to_be_focused(timeout=TIMEOUT)
    first.click()
    frame.get_by_role("button", name=no, exact=True).click()
    expect(frame.locator("#input")).to_have_value(query, timeout=TIMEOUT)
    assert alerts == []
    ctx.close()
