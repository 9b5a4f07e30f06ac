"""`rnnlab serve`: the poem page and its JSON API (FastAPI, run by uvicorn).

    GET  /                the page (static/: plain HTML, CSS and a small script, no build step)
    GET  /healthz         {"status": "ok", "models": n}
    GET  /api/models      the loaded models: name, architecture, corpus, vocabulary size, validation perplexity
    POST /api/generate    GenerateRequest (schema.py) -> {"model", "poems", "seconds"}
    POST /api/choices     ChoicesRequest: a poem and the options it was written with -> {"model", "poem",
                          "steps"}: the model's own choice at each position (inspection/choices.py)

Every request is bounded: its body (max_body bytes, and it must say how long it is), every option
(schema.py), the number of requests waiting (max_waiting; more get a 503) and the time one may take
(timeout seconds; then a 504). Models are loaded once; generation runs in one worker thread, so the
event loop stays free to answer while requests queue for the model in arrival order.
A request the generator refuses (characters outside the vocabulary, an acrostic longer than the form,
...) gets a 422 in FastAPI's own format, naming the field: {"detail": [{"loc": ["body", field], "msg"}]}.
"""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from rnnlab.checkpoint import architecture
from rnnlab.errors import RnnlabError
from rnnlab.inspection.choices import choices
from rnnlab.web.schema import ChoicesRequest, ChoicesResponse, GenerateRequest, GenerateResponse, ModelInfo

STATIC = Path(__file__).parent / "static"


def model_names(checkpoints):
    """{name: Checkpoint}: a run's name for its best/ or last/ checkpoint, made unique with -2, -3, ..."""
    named = {}
    for ckpt in checkpoints:
        base = ckpt.path.parent.name if ckpt.path.name in ("best", "last") else ckpt.path.name
        name, k = base, 1
        while name in named:
            k += 1
            name = f"{base}-{k}"
        named[name] = ckpt
    return named


def model_info(name, ckpt):
    return ModelInfo(name=name, architecture=architecture(ckpt.model), corpus=Path(ckpt.data_config.corpus).stem,
                     vocab_size=len(ckpt.vocab), valid_ppl=ckpt.meta.get("valid_ppl"), step=ckpt.meta.get("step"))


def refuse(status, message, loc=None):
    """An error response; with `loc` (e.g. ["body", "acrostic"]) in the shape of FastAPI's validation errors."""
    if loc is None:
        return JSONResponse({"detail": message}, status)
    return JSONResponse({"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status)


class BodyLimit:
    """ASGI middleware: a POST must give its Content-Length (411 otherwise), at most `limit` bytes (413)."""

    def __init__(self, app, limit):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            problem = None
            if length is None or not length.isdigit():
                problem = (411, "a request body needs a Content-Length header")
            elif int(length) > self.limit:
                problem = (413, f"request body over {self.limit} bytes")
            if problem:
                return await refuse(*problem)(scope, receive, send)
        await self.app(scope, receive, send)


class ModelWorker:
    """The loaded models and the one thread that runs them, within the queue and time limits."""

    def __init__(self, models, timeout, max_waiting):
        self.models, self.timeout, self.max_waiting, self.waiting = models, timeout, max_waiting, 0
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="rnnlab-generate")

    async def run(self, request, work):
        """work(checkpoint, options) for the request's model: (model name, result) or (name, error response)."""
        name = request.model or next(iter(self.models))
        if name not in self.models:
            return name, refuse(422, f"unknown model {name!r}; loaded: {', '.join(self.models)}", ["body", "model"])
        if self.waiting >= self.max_waiting:
            return name, refuse(503, f"busy: {self.max_waiting} requests are waiting; try again shortly")
        self.waiting += 1
        job = self.pool.submit(work, self.models[name], request.options())
        try:
            return name, await asyncio.wait_for(asyncio.wrap_future(job), self.timeout)
        except RnnlabError as e:
            return name, refuse(422, str(e), ["body", e.field] if e.field else ["body"])
        except asyncio.TimeoutError:
            job.cancel()
            return name, refuse(504, f"the request took longer than {self.timeout:g} s")
        finally:
            self.waiting -= 1


LIMITS = {422: {"description": "an option out of range, or a request the model cannot satisfy"},
          503: {"description": "too many requests waiting"}, 504: {"description": "over the time limit"}}


def create_app(checkpoints, timeout=20.0, max_body=4096, max_waiting=32):
    """The app serving `checkpoints` (loaded Checkpoint objects; the first is the default model)."""
    models = model_names(checkpoints)
    worker = ModelWorker(models, timeout, max_waiting)

    @asynccontextmanager
    async def lifespan(app):
        yield
        worker.pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="rnnlab", summary="Tang poems from recurrent language models", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=max_body)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "models": len(models)}

    @app.get("/api/models", response_model=list[ModelInfo])
    def list_models():
        return [model_info(name, ckpt) for name, ckpt in models.items()]

    @app.post("/api/generate", response_model=GenerateResponse, responses=LIMITS)
    async def generate(request: GenerateRequest):
        t0 = time.perf_counter()
        name, poems = await worker.run(request, lambda ckpt, options: ckpt.generate(**options))
        if isinstance(poems, JSONResponse):
            return poems
        return GenerateResponse(model=name, poems=poems, seconds=round(time.perf_counter() - t0, 4))

    @app.post("/api/choices", response_model=ChoicesResponse, responses=LIMITS)
    async def look_inside(request: ChoicesRequest):
        name, steps = await worker.run(request, lambda ckpt, options: choices(ckpt.model, ckpt.vocab, request.poem,
                                                                              **options))
        if isinstance(steps, JSONResponse):
            return steps
        return ChoicesResponse(model=name, poem=request.poem, steps=steps)

    return app


def serve(paths, host="127.0.0.1", port=8000, timeout=20.0, device="cpu"):
    """Load the checkpoints onto `device` (none: the bundled model) and serve them until interrupted."""
    import uvicorn

    from rnnlab.checkpoint import load_checkpoint

    checkpoints = [load_checkpoint(p, device=device) for p in paths or [None]]
    for ckpt in checkpoints:                     # warm-up: the first request would pay for lazy loading
        ckpt.generate(form="wujue", rhyme="hard", tones="hard", seed=0)
    app = create_app(checkpoints, timeout)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"rnnlab: serving on {host}: reachable from other machines")
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=5, limit_concurrency=64)
