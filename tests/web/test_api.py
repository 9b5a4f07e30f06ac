"""The JSON API through FastAPI's test client: every option, every refusal, the bounds, models, healthz."""
import json

import pytest
from fastapi.testclient import TestClient

from rnnlab.generate.forms import follows_tones, form_of, rhymes, split_lines
from rnnlab.web.app import create_app


@pytest.fixture(scope="module")
def client(checkpoint):
    with TestClient(create_app([checkpoint, checkpoint])) as c:
        yield c


def post(client, **body):
    return client.post("/api/generate", json=body)


def poems(client, **body):
    response = post(client, **body)
    assert response.status_code == 200, response.text
    return response.json()["poems"]


def test_healthz_and_models(client, checkpoint):
    assert client.get("/healthz").json() == {"status": "ok", "models": 2}
    models = client.get("/api/models").json()
    assert [m["name"] for m in models] == ["run", "run-2"]             # a run's name, made unique
    assert models[0] == {"name": "run", "architecture": "lstm", "corpus": "tang300", "vocab_size": len(checkpoint.vocab),
                         "valid_ppl": pytest.approx(checkpoint.meta["valid_ppl"]), "step": checkpoint.meta["step"]}


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="acrostic"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200


@pytest.mark.parametrize("form, length", [("wujue", 24), ("qijue", 32), ("wulv", 48), ("qilv", 64)])
def test_forms_and_acrostic(client, form, length):
    for poem in poems(client, form=form, acrostic="春月", num=2, seed=1):
        assert len(poem) == length and form_of(poem) == form
        assert [line[0] for line, _ in split_lines(poem)[:2]] == ["春", "月"]


def test_start_prefix_num_seed_and_model(client):
    first = poems(client, start="月", prefix="山", num=3, seed=7, model="run-2")
    assert len(first) == 3 and all(p.startswith("月") for p in first)
    assert poems(client, start="月", prefix="山", num=3, seed=7) == first           # the seed decides
    response = post(client, num=1, seed=1)
    assert response.json()["model"] == "run" and set(response.json()) == {"model", "poems", "seconds"}


def test_sampling_options(client):
    assert len(poems(client, temperature=0.5, top_k=5, top_p=0.9, repetition_penalty=1.5, num=2, seed=3)) == 2
    assert all(len(p) <= 10 for p in poems(client, max_len=10, num=3, seed=3))
    greedy = poems(client, strategy="greedy", start="花")
    assert greedy == poems(client, strategy="greedy", start="花", seed=99)           # no randomness
    beam = poems(client, strategy="beam", beam_size=3, num=2, form="wujue")
    assert len(beam) == 2 and all(form_of(p) == "wujue" for p in beam)


def test_rhyme_and_tones(client):
    for poem in poems(client, form="wulv", rhyme="hard", tones="hard", num=2, seed=5):
        assert rhymes(poem) and follows_tones(poem)
    assert len(poems(client, form="qijue", rhyme="soft", tones="soft", seed=5)) == 1


@pytest.mark.parametrize("body, field", [
    ({"temperature": 0}, "temperature"), ({"temperature": 6}, "temperature"), ({"temperature": "hot"}, "temperature"),
    ({"top_k": 0}, "top_k"), ({"top_p": 0}, "top_p"), ({"top_p": 1.5}, "top_p"),
    ({"beam_size": 0}, "beam_size"), ({"beam_size": 17}, "beam_size"),
    ({"num": 0}, "num"), ({"num": 21}, "num"), ({"max_len": 1}, "max_len"), ({"max_len": 201}, "max_len"),
    ({"repetition_penalty": 0.5}, "repetition_penalty"), ({"seed": -1}, "seed"),
    ({"form": "sonnet"}, "form"), ({"strategy": "random"}, "strategy"), ({"rhyme": "strict"}, "rhyme"),
    ({"tones": 1}, "tones"), ({"start": "月" * 33}, "start"), ({"acrostic": "春" * 9}, "acrostic"),
    ({"prefix": "山" * 65}, "prefix"), ({"model": "m" * 101}, "model"), ({"colour": "red"}, "colour"),
])
def test_out_of_range_values_name_their_field(client, body, field):
    response = post(client, **body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("body, field, words", [
    ({"start": "Q"}, "start", "outside the model's vocabulary"),
    ({"acrostic": "xy", "form": "wujue"}, "acrostic", "outside the model's vocabulary"),
    ({"prefix": "Q"}, "prefix", "outside the model's vocabulary"),
    ({"acrostic": "春月春月春", "form": "wujue"}, "acrostic", "longer than the 4 lines"),
    ({"rhyme": "hard"}, "rhyme", "need a regulated form"),
    ({"tones": "soft"}, "tones", "need a regulated form"),
    ({"strategy": "beam", "beam_size": 2, "num": 3}, "beam_size", "beam size 2 < num 3"),
    ({"start": "月" * 12, "max_len": 10}, "max_len", "must exceed the length of the start text"),
    ({"start": "，月"}, "start", "cannot begin with punctuation"),
    ({"model": "nope"}, "model", "unknown model 'nope'"),
])
def test_impossible_requests_name_their_field_and_why(client, body, field, words):
    response = post(client, **body)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", field] and words in detail["msg"], detail


def test_body_bounds(client):
    big = client.post("/api/generate", content=json.dumps({"prefix": "山" * 2000}),
                      headers={"content-type": "application/json"})
    assert big.status_code == 413 and "over 4096 bytes" in big.json()["detail"]
    chunked = client.post("/api/generate", content=iter([b'{"num": 1}']), headers={"content-type": "application/json"})
    assert chunked.status_code == 411
    broken = client.post("/api/generate", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422


def test_time_limit_and_queue_bound(checkpoint):
    with TestClient(create_app([checkpoint], timeout=1e-4)) as slow:
        response = post(slow, form="qilv", num=20)
        assert response.status_code == 504 and "longer than 0.0001 s" in response.json()["detail"]
    with TestClient(create_app([checkpoint], max_waiting=0)) as full:
        response = post(full)
        assert response.status_code == 503 and "busy" in response.json()["detail"]


def test_choices_of_a_written_poem_are_the_models_own(client, checkpoint):
    """/api/choices gives, for a poem /api/generate wrote, what inspection/choices.py computes."""
    from rnnlab.inspection.choices import choices

    options = {"form": "wujue", "rhyme": "hard", "tones": "hard", "seed": 2}
    poem = poems(client, **options)[0]
    answer = client.post("/api/choices", json={**options, "poem": poem})
    assert answer.status_code == 200, answer.text
    steps = answer.json()["steps"]
    expected = choices(checkpoint.model, checkpoint.vocab, poem, **options)
    assert [s["char"] for s in steps] == list(poem) + ["<eos>"]
    assert [s["p"] for s in steps] == pytest.approx([s["p"] for s in expected], rel=1e-6)
    assert [s["overruled"] for s in steps] == [s["overruled"] for s in expected]


@pytest.mark.parametrize("body, status, match", [
    ({"poem": "床前明月光，疑是地上霜。Hello"}, 422, "characters outside the model's vocabulary"),
    ({"poem": ""}, 422, "at least 1 character"),
    ({"poem": "月" * 201}, 422, "at most 200 characters"),
    ({"poem": "月明", "form": "wujue"}, 422, "breaks the options' constraints"),
])
def test_bad_choices_requests(client, body, status, match):
    answer = client.post("/api/choices", json=body)
    assert answer.status_code == status and match in json.dumps(answer.json(), ensure_ascii=False)
