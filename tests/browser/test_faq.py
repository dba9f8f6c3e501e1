"""The widget's FAQ tab: a visitor finds an answer in their language (typed in the wrong
layout, in another word form), and "no, it did not help" takes the question to the chat."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.helpers import TIMEOUT, open_widget, operator_login

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


def test_no_carries_the_question_into_the_contact_form_when_the_site_has_one(
    browser: Any, demo: Demo, host_site: HostSite, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Tabs in order chat, FAQ, contact; "did not help" opens the form with the question
    as its message, so the visitor need not type it again."""
    key = demo.add_site(host_site.origin, "FAQ and contact shop", "--contact")
    path = tmp_path_factory.mktemp("faq-contact") / "faq.csv"
    path.write_text(CSV, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "server.cli", "faq", "import", str(path), "--site", key,
                    "--data-dir", str(demo.data_dir)], check=True, capture_output=True)
    ctx = browser.new_context(locale="ru-RU")
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={key}")
    frame = open_widget(page)
    expect(frame.locator("[role=tab]:visible")).to_have_text(["Чат", "Вопросы", "Написать"], timeout=TIMEOUT)
    frame.get_by_role("tab", name="Вопросы").click()
    frame.locator("#faq-q").fill("доставка")
    frame.locator(".faq-result").first.click()
    frame.get_by_role("button", name="Нет", exact=True).click()
    expect(frame.get_by_role("tab", name="Написать")).to_have_attribute("aria-selected", "true", timeout=TIMEOUT)
    expect(frame.locator("#view-contact textarea")).to_have_value("доставка", timeout=TIMEOUT)
    ctx.close()


def test_an_admin_answers_an_unanswered_question_from_the_console(
    browser: Any, demo: Demo, host_site: HostSite, faq_site: str,
) -> None:
    """A visitor's search that found nothing shows among the unanswered questions; the
    admin writes its answer from there, and the next visitor finds it."""
    ctx = browser.new_context(locale="ru-RU")
    visitor = ctx.new_page()
    visitor.goto(f"{host_site.origin}/plain.html?key={faq_site}")
    frame = open_widget(visitor)
    frame.get_by_role("tab", name="Вопросы").click()
    frame.locator("#faq-q").fill("подарочный сертификат")
    expect(frame.locator(".faq-status")).to_have_text("Ответ не найден. Спросите нас — поможем.", timeout=TIMEOUT)

    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    console.goto(f"{demo.server_url}/console/faq/gaps?site={faq_site}")
    row = console.locator("tr", has_text="подарочный сертификат")
    expect(row).to_contain_text("Ответ не найден", timeout=TIMEOUT)
    assert _violations(console) == []
    screenshot(console, "console-faq-gaps")
    row.get_by_role("link", name="Написать ответ").click()
    expect(console.locator("#fd-faq-question")).to_have_value("подарочный сертификат")
    console.locator("#fd-faq-answer").fill("Да, **подарочные сертификаты** на 5000 и 10 000 ₸ продаются в магазине.")
    console.get_by_role("button", name="Сохранить").click()
    expect(console.locator(".fd-notice")).to_contain_text("подарочный сертификат", timeout=TIMEOUT)
    assert _violations(console) == []
    screenshot(console, "console-faq-list")

    frame.locator("#faq-q").fill("подарочные сертификаты")
    expect(frame.locator(".faq-result").first).to_have_text("подарочный сертификат", timeout=TIMEOUT)
    ctx.close()


def _violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    return [f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in Axe().run(page).response["violations"]]
