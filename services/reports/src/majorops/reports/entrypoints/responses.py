"""How reports answers: reviews with their ETag, accepted changes, and every failure — invalid
input, an unknown path or method, a store not open yet — as an RFC 9457 problem document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from majorops.reports.handlers.emit import Accepted
from majorops.reports.handlers.publication import AlreadyPublished
from majorops.reports.ports import StoreNotOpen
from majorops.reports.problems import invalid_input, not_json
from majorops.shared.access import problem_response
from majorops.shared.events import FieldError
from majorops.shared.problems import Problem


def review_response(document: dict[str, Any], etag: str, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        document, status_code=status_code, headers={"ETag": etag, "Cache-Control": "no-cache"}
    )


def accepted_response(result: Accepted | AlreadyPublished | Problem) -> JSONResponse:
    if isinstance(result, Problem):
        return problem_response(result)
    if isinstance(result, AlreadyPublished):
        return JSONResponse(result.as_dict(), status_code=200)
    return JSONResponse(result.as_dict(), status_code=202)


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts.pop(0)
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else str(part))
    return path or "(body)"


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be a string",
    "int_parsing": "must be an integer",
    "bool_parsing": "must be true or false",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
}


def validation_problem(exc: RequestValidationError) -> Problem:
    """FastAPI's validation errors as one problem naming every bad field (400 for a body not JSON)."""
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            return not_json(str(error.get("ctx", {}).get("error", "invalid JSON")))
    fields = []
    for error in errors:
        message = _MESSAGES.get(error.get("type", ""), str(error.get("msg", "is invalid")))
        message = message.removeprefix("Value error, ")
        fields.append(FieldError(_field_path(tuple(error.get("loc", ()))), message))
    where = "query" if any(e.get("loc", ("",))[0] == "query" for e in errors) else "request body"
    return invalid_input(fields, where)


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method served at the path template the request's path falls under.

    Starlette's 405 names only the methods of the first route whose path matched, but one path
    template can have several routes (``GET`` and ``PATCH /v1/reviews/{incident_id}``); ``Allow``
    must list them all (RFC 9110 §15.5.6), and only those the OpenAPI documents for that template.
    """
    # Through the routers included (FastAPI keeps each as one route of the app).
    routes = [r for r in iter_route_contexts(app.router.routes) if isinstance(r.original_route, APIRoute)]
    template = next((r.path for r in routes if r.matches(request.scope)[0] is not Match.NONE), None)
    return sorted({method for r in routes if r.path == template for method in r.methods or ()})


def answer_with_problems(app: FastAPI) -> None:
    """Every failure the routes do not answer themselves becomes a problem document."""

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        slug = title.lower().replace(" ", "-")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        problem = Problem(exc.status_code, title, str(exc.detail), slug, headers=headers)
        return problem_response(problem)

    @app.exception_handler(StoreNotOpen)
    async def on_not_started(_: Request, exc: StoreNotOpen) -> JSONResponse:
        return problem_response(
            Problem(503, "Not ready", str(exc), "not-ready", headers={"Retry-After": "1"})
        )
