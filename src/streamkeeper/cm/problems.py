"""`/v2`'s error body for refusals found outside its handlers (unknown path, wrong method, body
over the limit, catalog database unreachable): the advice list of the real service."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from ..feature import Problem
from .rendering import advice_body

_ADVICE_TYPES = {"invalid": "bad-request", "http": "http-error", "unavailable": "service-unavailable",
                 "too-large": "request-too-large"}


def render_problem(problem: Problem) -> Response:
    return JSONResponse(advice_body(_ADVICE_TYPES[problem.kind], problem.message), status_code=problem.status,
                        headers=problem.headers)
