"""``Horae.asgi()`` mounted under /horae in Starlette and FastAPI: the API with a token, the
console's sign-in, static files, redirects and cookies all stay under the prefix, and the
user's lifespan runs the scheduler and the worker."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from horae import Horae, RunState
from horae.api.auth import Role, mint_token
from horae.store.api_store import ApiStore

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from starlette.testclient import TestClient  # noqa: E402


def add(a: int, b: int) -> int:
    return a + b


def starlette_site(horae: Horae) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        horae.start(concurrency=2)  # the user's lifespan runs Horae's parts
        yield
        horae.stop(grace=1)

    async def home(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("the user's own page")

    return Starlette(routes=[Route("/", home), Mount("/horae", app=horae.asgi())],
                     lifespan=lifespan)


def fastapi_site(horae: Horae) -> Any:
    fastapi = pytest.importorskip("fastapi")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        horae.start(concurrency=2)
        yield
        horae.stop(grace=1)

    site = fastapi.FastAPI(lifespan=lifespan)

    @site.get("/")
    def home() -> dict[str, str]:
        return {"page": "the user's own page"}

    site.mount("/horae", horae.asgi())
    return site


@pytest.fixture(params=[starlette_site, fastapi_site], ids=["starlette", "fastapi"])
def site(request: pytest.FixtureRequest, database_url: str
         ) -> Iterator[tuple[TestClient, Horae, str]]:
    horae = Horae(database_url)
    horae.task("add")(add)
    make: Callable[[Horae], Any] = request.param
    made = mint_token(ApiStore(horae.store), "ops", Role.OPERATOR)
    assert made is not None
    with TestClient(make(horae), follow_redirects=False) as client:
        yield client, horae, made[0]
    horae.stop()


def test_the_api_answers_under_the_prefix_with_a_token(
        site: tuple[TestClient, Horae, str]) -> None:
    client, horae, token = site
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post("/horae/api/v1/runs", json={"task": "add", "kwargs": {"a": 2, "b": 3}},
                          headers=auth)
    assert created.status_code == 201, created.text
    done = horae.runs.wait(created.json()["id"], timeout=30)  # the lifespan started a worker
    assert done.state is RunState.SUCCEEDED and done.result == 5
    assert client.get("/horae/api/v1/runs", headers=auth).status_code == 200
    assert client.get("/horae/api/v1/runs").status_code == 401
    assert "own page" in client.get("/").text  # the user's routes are untouched


def test_the_console_signs_in_and_redirects_under_the_prefix(
        site: tuple[TestClient, Horae, str]) -> None:
    client, _horae, token = site
    away = client.get("/horae/runs")
    assert away.status_code == 303 and away.headers["location"] == "/horae/login?next=/runs"
    page = client.get("/horae/login")
    assert page.status_code == 200
    assert 'action="/horae/login"' in page.text
    assert 'href="/horae/static/console.css"' in page.text
    assert '"api": "/horae/api/v1"' in page.text and '"root": "/horae"' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    signed = client.post("/horae/login", data={"csrf": csrf.group(1), "token": token,
                                               "next": "/runs"})
    assert signed.status_code == 303 and signed.headers["location"] == "/horae/runs"
    assert "Path=/horae" in signed.headers["set-cookie"]
    runs = client.get("/horae/runs")
    assert runs.status_code == 200
    assert 'href="/horae/schedules"' in runs.text and 'href="/schedules"' not in runs.text
    # the session cookie reaches the API through the bridge, under the prefix too
    assert client.get("/horae/api/v1/runs").status_code == 200


def test_static_files_are_served_under_the_prefix(
        site: tuple[TestClient, Horae, str]) -> None:
    client = site[0]
    css = client.get("/horae/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/console.css").status_code == 404


def test_asgi_starts_nothing_unless_asked(database_url: str) -> None:
    horae = Horae(database_url)
    try:
        app = horae.asgi()
        assert horae._store is None  # building (or mounting) it at import connects nothing
        with TestClient(app) as client:
            assert client.get("/api/v1/health/live").status_code == 200
            assert horae.scheduler is None and horae.worker is None
        with TestClient(horae.asgi("/horae", start=True)) as client:
            assert horae.scheduler is not None and horae.worker is not None
            assert client.get("/horae/login").status_code == 200
            assert client.get("/login").status_code == 404
        assert horae.scheduler is None and horae.worker is None
    finally:
        horae.stop()
