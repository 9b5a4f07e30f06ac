"""Make docs/serve.png: the page with a model's poems, in headless Chromium at a phone's width, and
docs/look-inside.png: the first poem's look-inside view with one character tapped.

    python docs/make_screenshot.py [--checkpoint tang] [--out docs/serve.png] [--inside docs/look-inside.png]
"""
import argparse
import shutil
import socket
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from rnnlab.checkpoint import load_checkpoint
from rnnlab.web.app import create_app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="tang")
    parser.add_argument("--out", default="docs/serve.png")
    parser.add_argument("--inside", default="docs/look-inside.png")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app([load_checkpoint(args.checkpoint)]), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 430, "height": 640}, device_scale_factor=2)
        page.goto(f"http://127.0.0.1:{port}")
        page.wait_for_selector("#model option", state="attached")
        page.fill("#acrostic", "春花秋月")
        page.select_option("#form", "wujue")
        page.select_option("#rhyme", "hard")
        page.fill("#seed", "3")
        page.click("#write")
        page.wait_for_selector(".poem")
        page.screenshot(path=args.out, full_page=True)
        page.click(".poem .look")
        page.wait_for_selector(".poem .ch")
        page.locator(".poem .ch").nth(10).click()
        page.locator(".poem").first.screenshot(path=args.inside)
        browser.close()
    server.should_exit = True
    print(f"wrote {args.out} and {args.inside}")


if __name__ == "__main__":
    main()
