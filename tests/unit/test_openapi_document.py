"""The OpenAPI document describes the API as a client meets it (no server needed: the app
connects nothing until a request). tests/e2e/test_openapi_contract.py checks the live one."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from adapters.http.app import create_app
from firmtext.bootstrap import Container
from firmtext.config import Settings


@pytest.fixture(scope="module")
def app():
    return create_app(Container(Settings()))


@pytest.fixture(scope="module")
def document(app) -> dict:
    return app.openapi()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_refusal_is_in_our_error_shape(document) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert response["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, \
                    (method, path, status)


def test_bearer_tokens_where_needed_and_nowhere_else(document) -> None:
    assert document["components"]["securitySchemes"]["bearer"] == {
        **document["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    # A signed media link is its own credential (an <img src> cannot send a header).
    signed = "/v1/media/{media_id}/signed"
    for path, method, operation in operations(document):
        if path.startswith("/v1/") and path != signed:
            assert operation["security"] == [{"bearer": []}], (method, path)
            # GET /v1/me needs a token but no permission: it tells the page what the caller lacks.
            wanted = {"401"} if (method, path) == ("get", "/v1/me") else {"401", "403"}
            assert wanted <= set(operation["responses"]), (method, path)
        else:
            assert "security" not in operation and "401" not in operation["responses"], (method, path)
    assert "403" in document["paths"][signed]["get"]["responses"]


def test_each_route_declares_the_refusals_it_gives(document) -> None:
    responses = {(m, p): set(op["responses"]) for p, m, op in operations(document)}
    assert {"404", "409", "422", "413", "415", "400"} <= responses[("post", "/v1/conversations/{conversation_id}/messages")]
    assert {"200", "201", "404", "409"} <= responses[("post", "/v1/conversations")]
    assert {"404"} <= responses[("get", "/v1/conversations/{conversation_id}")]
    assert {"409", "422"} <= responses[("put", "/v1/firm")]
    assert {"404"} <= responses[("delete", "/v1/contacts/{contact_id}")]
    assert {"403", "404", "415", "422"} <= responses[("post", "/webhooks/twilio/messages")]
    assert "503" in responses[("get", "/readyz")]


def test_limit_is_bounded_everywhere(document) -> None:
    limits = [(p, parameter["schema"]) for p, _, op in operations(document)
              for parameter in op.get("parameters", []) if parameter["name"] == "limit"]
    assert len(limits) >= 3
    for path, schema in limits:
        assert (schema["type"], schema["minimum"], schema["maximum"], schema["default"]) == ("integer", 1, 200, 50), path


def test_content_types_are_the_real_ones(document) -> None:
    paths = document["paths"]
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    for hook in ("messages", "status", "voice"):
        webhook = paths[f"/webhooks/twilio/{hook}"]["post"]
        assert list(webhook["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
        assert list(webhook["responses"]["200"]["content"]) == ["application/xml"]
    assert list(paths["/v1/conversations/{conversation_id}/print"]["get"]["responses"]["200"]["content"]) == ["text/html"]
    media = paths["/v1/media/{media_id}"]["get"]["responses"]["200"]["content"]
    assert media and all(kind.startswith("image/") for kind in media)
    assert list(paths["/v1/notifications/stream"]["get"]["responses"]["200"]["content"]) == ["text/event-stream"]
    send = paths["/v1/conversations/{conversation_id}/messages"]["post"]
    assert send["requestBody"]["content"]["application/json"]["schema"]["required"] == ["body"]


@pytest.mark.parametrize("method, path, allowed", [("PATCH", "/v1/contacts/kc", "DELETE, PUT"),
                                                   ("POST", "/healthz", "GET"),
                                                   ("GET", "/webhooks/twilio/messages", "POST")])
def test_405_says_what_is_allowed(app, method, path, allowed) -> None:
    answer = TestClient(app).request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed
    assert answer.json()["error"]["code"] == "method_not_allowed"
