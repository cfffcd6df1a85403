"""The OpenAPI document at ``/openapi.json``, made to tell the truth.

FastAPI generates the document from the routes; this module corrects what it cannot know:
errors are ours (``{"error": {"code", "message"}}``, never FastAPI's ``{"detail": [...]}``),
who needs a bearer token (found from each route's dependencies, so a new route cannot
forget), the bounds that the handlers enforce themselves (``limit``), and the bodies of the
routes that read their request by hand (carrier webhooks, some JSON writes). Routes declare
their own domain refusals with :func:`refusals`. docs/api.md says what is checked.
"""
from __future__ import annotations

from typing import Any, Iterable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from adapters.http.paging import DEFAULT_LIMIT, MAX_LIMIT
from adapters.media_store import MEDIA_ID

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "title": "Error",
    "description": "Every refusal: a code for programs and a sentence for a person; never a stack trace.",
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "examples": ["opted_out"]},
        "message": {"type": "string", "examples": ["This number replied STOP and has opted out of texts."]}}}},
}
BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
          "description": "HS256 JWT with claims sub, firm, perms (texting, admin) and exp."}
WHY = {400: "The body is not valid JSON.", 401: "No bearer token, or a bad or expired one.",
       403: "The caller lacks the permission (or, on webhooks, the carrier's signature).",
       404: "No such resource in the caller's firm.", 409: "Refused in the resource's current state.",
       413: "The request is larger than the documented caps.",
       415: "The body is not in the content type this operation reads.",
       422: "The request is well-formed but not valid.", 503: "A dependency is unreachable."}
FORM = "application/x-www-form-urlencoded"
EXISTING = {"description": "That number already has a conversation: it is returned.",
            "content": {"application/json": {"schema": {"type": "object"}}}}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "The same key and body return the original result instead of acting twice.",
                   "schema": {"type": "string", "maxLength": 200}}


class TwimlResponse(Response):
    """TwiML answers to the carrier (documents webhooks as ``application/xml``)."""
    media_type = "application/xml"


class PrometheusResponse(Response):
    """The Prometheus text exposition format (documents ``/metrics`` as ``text/plain``)."""
    media_type = "text/plain"


def refusals(*statuses: int, ok: tuple[int, str, str] | None = None) -> dict[int | str, dict]:
    """``responses=`` for a route: its refusals in our error shape, and optionally its
    success as ``(status, media type, description)`` when that is not JSON."""
    declared: dict[int | str, dict] = {status: _error(status) for status in statuses}
    if ok is not None:
        status, media_type, description = ok
        declared[status] = {"description": description,
                            "content": {media_type: {"schema": {"type": "string"}}}}
    return declared


def _error(status: int) -> dict:
    return {"description": WHY.get(status, "Refused."), "content": {"application/json": {"schema": ERROR_REF}}}


def _form(properties: dict[str, dict], required: Iterable[str]) -> dict:
    return {"required": True, "content": {FORM: {"schema": {
        "type": "object", "properties": properties, "required": list(required),
        "additionalProperties": {"type": "string"}}}}}


def _json(properties: dict[str, dict], required: Iterable[str] = ()) -> dict:
    return {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": list(required)}}}}


TEXT = {"type": "string"}
# Bodies of routes that read their request themselves (FastAPI cannot see them); a route
# that declares a body model keeps its own. Values: the body, and whether it reads JSON by hand.
HAND_READ_BODIES: dict[tuple[str, str], tuple[dict, bool]] = {
    ("post", "/webhooks/twilio/messages"): (_form(
        {"MessageSid": TEXT, "From": TEXT, "To": TEXT, "Body": TEXT, "NumMedia": TEXT,
         "MediaUrl0": TEXT, "MediaContentType0": TEXT}, ("MessageSid", "From", "To")), False),
    ("post", "/webhooks/twilio/status"): (_form(
        {"MessageSid": TEXT, "MessageStatus": TEXT, "ErrorCode": TEXT}, ("MessageSid", "MessageStatus")), False),
    ("post", "/webhooks/twilio/voice"): (_form({"CallSid": TEXT, "From": TEXT, "To": TEXT}, ()), False),
    ("post", "/v1/conversations"): (_json({"contact_id": TEXT, "phone": TEXT}), True),
    ("post", "/v1/conversations/{conversation_id}/messages"): (_json(
        {"body": {"type": "string", "maxLength": 1600}}, ("body",)), True),
    ("post", "/v1/notifications/seen"): (_json({"up_to": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}}), True),
}
# Writes that go through idempotency.run_idempotently (which reads the header by hand).
IDEMPOTENT = {("post", "/v1/conversations"), ("post", "/v1/conversations/{conversation_id}/messages"),
              ("post", "/v1/notifications/seen")}
# Bounds the handlers enforce themselves (paging.clamp_limit, media_store.MEDIA_ID, UUIDs).
PARAMETER_SCHEMAS = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "conversation_id": {"type": "string", "format": "uuid"},
    "media_id": {"type": "string", "pattern": f"^{MEDIA_ID.pattern}$"},
    "last-event-id": {"type": "string", "pattern": "^[0-9]*$"},  # only ids the stream sent
}


def _authenticates(route: RouteContext) -> set[str]:
    """The permissions a route's dependencies demand (empty: no bearer token needed)."""
    from adapters.http import deps
    from adapters.http.routes_notifications import stream_caller

    demands = {deps.texting_user: "texting", deps.admin: "admin", stream_caller: "texting", deps.caller: ""}
    found, pending = set(), list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call in demands:
            found.add(demands[dependency.call])
        pending.extend(dependency.dependencies)
    return found


def _plain_parameter(parameter: dict) -> None:
    """``anyOf: [T, null]`` → ``T``: a query or header value is absent or a value, never null."""
    schema = parameter.get("schema", {})
    variants = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(variants) == 1 and len(schema["anyOf"]) == 2:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        parameter["schema"] = {**rest, **variants[0]}
    if parameter["name"] in PARAMETER_SCHEMAS:
        parameter["schema"] = {**parameter["schema"], **PARAMETER_SCHEMAS[parameter["name"]]}
        parameter["schema"].pop("anyOf", None)


def _correct(operation: dict[str, Any], route: RouteContext, method: str) -> None:
    responses = operation.setdefault("responses", {})
    statuses = set()
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)  # FastAPI validates what it declared
    hand_read = HAND_READ_BODIES.get((method, route.path_format))
    if hand_read and "requestBody" not in operation:
        operation["requestBody"] = hand_read[0]
    if (method, route.path_format) in IDEMPOTENT:
        names = {parameter["name"].lower() for parameter in operation.get("parameters", [])}
        if "idempotency-key" not in names:
            operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
    permissions = _authenticates(route)
    if permissions:
        operation["security"] = [{"bearer": []}]
        statuses |= {401, 403} if permissions - {""} else {401}
    if "requestBody" in operation:
        statuses.add(413)
        if "application/json" in operation["requestBody"].get("content", {}):
            statuses.add(400)  # FastAPI (and json_object) refuse a body that is not JSON at all
    if hand_read:  # a hand reader checks the content type; a JSON reader also parses and validates
        statuses |= {415, 422} if hand_read[1] else {415}
    for status in statuses:
        responses.setdefault(str(status), _error(status))
    for status, response in responses.items():
        if status[0] in "45":  # FastAPI's 422 says {"detail": [...]}; ours never does
            response["content"] = {"application/json": {"schema": ERROR_REF}}
            response["description"] = WHY.get(int(status), response.get("description", "Refused."))
    for parameter in operation.get("parameters", []):
        _plain_parameter(parameter)


def document(app: FastAPI) -> dict[str, Any]:
    """The corrected document (built once, then cached like FastAPI's own)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for fastapi_shape in ("HTTPValidationError", "ValidationError"):
            schemas.pop(fastapi_shape, None)
        schemas["Error"] = ERROR_SCHEMA
        components["securitySchemes"] = {"bearer": BEARER}
        for route in iter_route_contexts(app.routes):  # routes of included routers, with their prefix
            if isinstance(route.original_route, APIRoute) and route.include_in_schema:
                for method in route.methods:
                    operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                    if operation is not None:
                        _correct(operation, route, method.lower())
        app.openapi_schema = schema
    return app.openapi_schema


def install(app: FastAPI) -> None:
    """Serve the corrected document at the app's ``openapi_url``."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
