"""RFC 9457 problem+json errors with a stable machine-readable `code`."""

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import Problem

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "unavailable",
}


# FastAPI raises this (as a plain 400) when a body is not JSON it can decode: invalid UTF-8, nesting too deep
_BODY_PARSE_ERROR = "There was an error parsing the body"


class ProblemResponse(JSONResponse):
    """problem+json that always renders: text echoed from the request (a lone surrogate, say) cannot break it."""

    media_type = PROBLEM

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"), default=str)
        return text.encode("utf-8", errors="replace")


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return ProblemResponse(problem.body(), status_code=problem.status, media_type=PROBLEM, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        errors.append({"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    if any(e["type"] == "json_invalid" for e in errors):
        return "malformed_json", errors
    return "validation_error", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Every 4xx/5xx leaves as problem+json; nothing leaks a stack trace."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, errors = _validation_detail(exc)
        status = 400 if code == "malformed_json" else 422
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)[:1000]
        return problem_response(Problem(status, code, detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
            code = "malformed_json"
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(Problem(exc.status_code, code, str(exc.detail)), headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem_response(Problem(500, "internal_error", "an unexpected error occurred"))
