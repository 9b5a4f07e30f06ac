import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("RNNLAB_DATA", str(REPO.parent / "shared" / "data"))
DATA = Path(os.environ["RNNLAB_DATA"])
FIXTURES = REPO / "tests" / "fixtures"
# The corpora every training, checkpoint, CLI and web test runs on, inside the repo (tests/fixtures/README.md):
POEMS = str(FIXTURES / "tang300.json")          # the 366 poems of 唐诗三百首, from chinese-poetry (MIT)
ENGLISH = str(FIXTURES / "shakespeare.txt")     # the first 11,916 characters of tiny Shakespeare


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Each test session caches prepared datasets in its own folder."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def needs_data(*parts):
    """Skip a test about a full corpus of the data folder when it is absent, unless RNNLAB_REQUIRE_DATA is
    set (CI sets it): then it fails. Every other test runs on the fixtures above."""
    path = DATA.joinpath(*parts)
    if os.environ.get("RNNLAB_REQUIRE_DATA") and not path.exists():
        raise FileNotFoundError(f"{path} is required (RNNLAB_REQUIRE_DATA is set)")
    return pytest.mark.skipif(not path.exists(), reason=f"a test of the full corpus {path}, which is missing "
                                                        "(`rnnlab data fetch tang`, or set RNNLAB_DATA)")


def train_tiny(tmp_path_factory, preset):
    """A run trained for a few steps on the fixture poems with a tiny model."""
    from rnnlab.data.dataset import prepare
    from rnnlab.training.config import build_config
    from rnnlab.training.loop import train

    os.environ["RNNLAB_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    cfg = build_config(preset, corpus=POEMS, embed_size=16, hidden_size=24, batch_size=16, max_steps=6,
                       eval_every=3, time_budget=0, device="cpu")
    return train(cfg, prepare(cfg.data), tmp_path_factory.mktemp(preset) / "run", progress=False)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The default preset's model (adaptive softmax), as every downstream command must take it."""
    return train_tiny(tmp_path_factory, "cpu-fast")


@pytest.fixture(scope="session")
def tiny_full_run(tmp_path_factory):
    """seed-large's model (full softmax), which the numpy engine can load too."""
    return train_tiny(tmp_path_factory, "seed-large")
