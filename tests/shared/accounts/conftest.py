"""An app serving the accounts router against a fresh database, and form helpers that act
like a browser: read the CSRF token off the page, post the form, keep the cookies."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shared.web import create_app

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


def csrf_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF field on the page"
    return match[1]


@pytest.fixture
def app(settings):
    # An unreachable LLM endpoint: nothing here talks to a model, and none is started.
    settings = settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"})
    return create_app("accounts-test", settings=settings)  # mounts accounts_router


def make_client(app, base_url: str = "http://testserver") -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False, raise_server_exceptions=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with make_client(app) as c:
        yield c


class Forms:
    """The account forms, filled in the way a browser would (fixture ``forms``)."""

    password = PASSWORD
    csrf_from = staticmethod(csrf_from)
    make_client = staticmethod(make_client)

    @staticmethod
    def sign_up(client: TestClient, email: str, password: str = PASSWORD, org: str = "", **extra):
        page = client.get("/account/sign-up", headers={"Accept": "text/html"})
        data = {"csrf_token": csrf_from(page.text), "email": email, "password": password}
        if org:
            data["org_name"] = org
        return client.post("/account/sign-up", data={**data, **extra})

    @staticmethod
    def sign_in(client: TestClient, email: str, password: str = PASSWORD, **extra):
        page = client.get("/account/sign-in", headers={"Accept": "text/html"})
        data = {"csrf_token": csrf_from(page.text), "email": email, "password": password}
        return client.post("/account/sign-in", data={**data, **extra})

    @staticmethod
    def sql(client: TestClient, query: str, params: tuple = ()) -> list[dict]:
        """Run SQL on the app's own pool, in the app's event loop."""

        async def run() -> list[dict]:
            async with client.app.state.pool.connection() as conn:
                cur = await conn.execute(query, params)
                return await cur.fetchall() if cur.description else []

        return client.portal.call(run)

    @staticmethod
    def account_csrf(client: TestClient) -> str:
        page = client.get("/account", headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text
        return csrf_from(page.text)


@pytest.fixture
def forms() -> type[Forms]:
    return Forms
