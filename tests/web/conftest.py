import os
import shutil
import socket
import threading
import time

import pytest

from rnnlab.checkpoint import load_checkpoint
from rnnlab.web.app import create_app


@pytest.fixture(scope="session")
def checkpoint(tiny_run):
    return load_checkpoint(tiny_run.run_dir)


@pytest.fixture(scope="session")
def live_server(checkpoint):
    """The app under uvicorn in a thread, on a free loopback port; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app([checkpoint]), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start in 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def chromium_path():
    """Debian's chromium; CI installs it, so there its absence fails the test instead of skipping it."""
    path = shutil.which("chromium")
    if path is None and os.environ.get("CI"):
        raise FileNotFoundError("chromium is required in CI (apt-get install chromium)")
    return path
