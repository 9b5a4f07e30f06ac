"""End to end in a real headless Chromium (Debian's, driven by Playwright), on a phone-sized screen: a user
writes an acrostic 五言绝句 and reads it while the page says it is writing; inputs carry the server's
bounds; long lines wrap; an impossible request, a failed request and a failed model list show why."""
import pytest

from tests.web.conftest import chromium_path

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="no chromium (apt-get install chromium)")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, live_server):
    page = browser.new_page(viewport=PHONE)
    page.goto(live_server)
    page.wait_for_selector("#model option", state="attached")
    page.wait_for_function("document.querySelector('#num').max !== ''")       # the bounds have arrived
    yield page
    page.close()


def test_an_acrostic_jueju_appears_in_lines_while_the_page_says_it_is_writing(page):
    page.evaluate("""window.seen = [];
        new MutationObserver(() => seen.push([!document.querySelector('#status').hidden,
                                              document.querySelector('#write').textContent]))
            .observe(document.querySelector('#status'), {attributes: true});""")
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
    assert page.is_hidden("#error") and page.is_hidden("#status")
    assert page.evaluate("seen") == [[True, "写作中… writing"], [False, "写诗 Write"]]


def test_number_inputs_carry_the_servers_bounds(page):
    bounds = page.evaluate("['num', 'temperature', 'top_k', 'beam_size'].map((id) => [document.getElementById(id).min,"
                           " document.getElementById(id).max])")
    assert bounds == [["1", "20"], ["0", "5"], ["1", "10000"], ["1", "16"]]
    page.fill("#num", "50")
    assert page.evaluate("document.querySelector('#request').checkValidity()") is False
    page.fill("#num", "2")


def test_a_long_line_wraps_on_a_phone(page):
    page.evaluate("document.querySelector('#poems').append(render('Shall I compare thee to a summer day? '.repeat(8)))")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.evaluate("document.querySelector('#poems').lastChild.remove()")


def test_a_request_that_gets_no_answer_says_so(page):
    page.route("**/api/generate", lambda route: route.abort())
    page.click("#write")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error").startswith("no answer from the server")
    assert page.is_enabled("#write") and page.is_hidden("#status")
    page.unroute("**/api/generate")


def test_a_failed_model_list_is_shown(browser, live_server):
    page = browser.new_page(viewport=PHONE)
    page.route("**/api/models", lambda route: route.fulfill(status=500, body="oops"))
    page.goto(live_server)
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "could not load the model list (the server answered 500); reload the page"
    assert page.is_disabled("#write")
    page.close()


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


def test_look_inside_shows_the_apis_probabilities_and_the_rules_that_acted(page):
    page.select_option("#form", "wujue")
    page.select_option("#rhyme", "hard")
    page.select_option("#tones", "hard")
    page.fill("#acrostic", "")
    page.fill("#temperature", "0.8")
    page.fill("#num", "1")
    page.fill("#seed", "4")
    page.evaluate("document.querySelector('#poems').replaceChildren()")      # the earlier tests' poems
    page.click("#write")
    page.wait_for_selector(".poem .look")
    poem = "".join(page.locator(".poem .line").all_inner_texts())
    page.click(".poem .look")
    page.wait_for_selector(".poem .ch")
    shown = page.evaluate("[...document.querySelectorAll('.poem .ch')].map((s) => [s.textContent, Number(s.dataset.p),"
                          " s.classList.contains('forced'), s.classList.contains('overruled')])")
    api = page.evaluate("""async (poem) => (await (await fetch('/api/choices', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({form: 'wujue', rhyme: 'hard',
        tones: 'hard', temperature: 0.8, num: 1, seed: 4, poem})})).json())""", poem)
    steps = [s for s in api["steps"] if s["char"] != "<eos>"]
    assert [row[0] for row in shown] == list(poem) == [s["char"] for s in steps]
    assert [row[1] for row in shown] == [s["p"] for s in steps]
    assert [row[2] for row in shown] == [bool(s["forced"]) for s in steps]
    assert [row[3] for row in shown] == [not s["forced"] and bool(s["overruled"]) for s in steps]
    page.locator(".poem .ch").nth(1).click()
    detail = page.inner_text(".poem .detail")
    assert detail.startswith(f"{poem[1]}: p ") and "model's top 5:" in detail
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.select_option("#rhyme", "")
    page.select_option("#tones", "")
    page.fill("#seed", "")
