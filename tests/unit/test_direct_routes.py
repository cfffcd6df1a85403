"""The carrier webhooks' direct path (adapters/http/direct_routes.py): served past the
router, with the app's own error handlers, and the same bytes for the hash chain."""
from __future__ import annotations

import json

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import given, strategies as st

from adapters.http import errors
from adapters.http.direct_routes import DirectRoutes, serves_directly
from adapters.http.errors import ApiError
from domain.envelope import canonical
from domain.ids import structural_key

router = APIRouter(prefix="/hooks")


@router.post("/fine")
async def fine(request: Request):
    return JSONResponse({"routed": "endpoint" in request.scope, "body": (await request.body()).decode()})


@router.post("/refused")
async def refused(request: Request):
    raise ApiError(403, "invalid_signature", "The request is not signed by the carrier.")


@router.post("/database-away")
async def database_away(request: Request):
    raise psycopg.OperationalError("connection refused")


@router.post("/with/{part}")
async def with_part(request: Request, part: str):
    return {}


def app_with(direct: bool) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.include_router(router)
    if direct:
        routes = [r for r in iter_route_contexts(app.router.routes) if r.endpoint in (fine, refused, database_away)]
        app.add_middleware(DirectRoutes, routes=routes)
    return app


def test_a_direct_route_is_answered_without_the_router_and_the_rest_as_before():
    with TestClient(app_with(True)) as client:
        r = client.post("/hooks/fine", content=b"a=1")
        assert r.status_code == 200 and r.json() == {"routed": False, "body": "a=1"}
        assert client.get("/hooks/fine").status_code == 405  # another method: FastAPI's answer
    with TestClient(app_with(False)) as client:  # the check above can tell the two apart
        assert client.post("/hooks/fine", content=b"a=1").json()["routed"] is True


def test_a_direct_route_s_failures_get_the_app_s_handlers():
    with TestClient(app_with(True)) as client:
        r = client.post("/hooks/refused")
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature"
        r = client.post("/hooks/database-away")
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        assert r.headers["retry-after"] == "1"


def test_only_endpoints_that_take_just_the_request_can_be_direct():
    app = app_with(False)
    by_endpoint = {r.endpoint: r for r in iter_route_contexts(app.router.routes) if hasattr(r, "endpoint")}
    assert serves_directly(by_endpoint[fine])
    assert not serves_directly(by_endpoint[with_part])


def test_the_api_serves_both_carrier_webhooks_directly(monkeypatch):
    monkeypatch.setenv("FIRMTEXT_ENV", "development")
    from adapters.http import routes_webhooks
    from adapters.http.app import create_app

    app = create_app(object())  # nothing connects until a request
    app.build_middleware_stack()  # builds DirectRoutes, which refuses a route it cannot serve
    direct = next(m for m in app.user_middleware if m.cls is DirectRoutes)
    assert sorted(r.path for r in direct.kwargs["routes"]) == ["/webhooks/twilio/messages",
                                                               "/webhooks/twilio/status"]
    assert {r.endpoint for r in direct.kwargs["routes"]} == set(routes_webhooks.DIRECT)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@given(json_values)
def test_the_prebuilt_encoders_give_json_dumps_bytes(value):
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        want = expected.encode()
    except UnicodeEncodeError:  # lone surrogates: refused the same way
        try:
            canonical(value)
        except UnicodeEncodeError:
            return
        raise AssertionError("canonical encoded a lone surrogate")
    assert canonical(value) == want


@given(st.lists(st.text() | st.integers(), max_size=5))
def test_structural_keys_are_unchanged(parts):
    assert structural_key(*parts) == json.dumps(list(parts), ensure_ascii=True, separators=(",", ":"))
