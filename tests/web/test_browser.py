"""End to end in a real headless Chromium (Debian's, driven by Playwright): a user writes an acrostic
五言绝句 and reads it; an impossible request shows the server's message on the page."""
import pytest


from tests.web.conftest import chromium_path

pytestmark = [              pytest.mark.skipif(chromium_path() is None, reason="no chromium (apt-get install chromium)")]


@pytest.fixture(scope="module")
def page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})     # a phone's screen
        page.goto(live_server)
        page.wait_for_selector("#model option", state="attached")
        yield page
        browser.close()


def test_an_acrostic_jueju_appears_in_lines(page):
    page.fill("#acrostic", "春花秋月")
    page.select_option("#form", "wujue")
    page.fill("#num", "2")
    page.click("#write")
    page.wait_for_selector(".poem")
    poems = page.locator(".poem")
    assert poems.count() == 2
    for i in range(2):
        lines = poems.nth(i).locator(".line").all_inner_texts()
        assert len(lines) == 4 and [line[0] for line in lines] == list("春花秋月")
        assert all(len(line) == 6 and line[-1] in "，。" for line in lines)       # five characters and a mark
    assert page.is_hidden("#error")


def test_an_impossible_request_shows_why(page):
    page.fill("#acrostic", "春花秋月春")
    page.select_option("#form", "wujue")
    page.click("#write")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "acrostic: an acrostic of 5 characters is longer than the 4 lines of 五言绝句"
    page.fill("#acrostic", "")
    page.fill("#temperature", "0")
    page.click("#write")
    page.wait_for_function("document.querySelector('#error').textContent.startsWith('temperature')")
    assert "greater than 0" in page.inner_text("#error")
