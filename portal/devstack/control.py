"""The simulators' control endpoints, for tests and benches in another process.

`GET /__sim/state`, `POST /__sim/faults` (a JSON object of knob -> value) and
`POST /__sim/reset`. Loopback only, like the simulators themselves.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from werkzeug.wrappers import Request, Response


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def control_response(request: Request, *, state: Callable[[], dict],
                     set_faults: Callable[..., None], reset: Callable[[], None]) -> Response:
    if request.path == "/__sim/state" and request.method == "GET":
        return _json(200, state())
    if request.path == "/__sim/reset" and request.method == "POST":
        reset()
        return _json(200, state())
    if request.path == "/__sim/faults" and request.method == "POST":
        knobs = request.get_json(force=True, silent=True)
        if not isinstance(knobs, dict):
            return _json(400, {"message": "POST a JSON object of knob -> value."})
        try:
            set_faults(**knobs)
        except (TypeError, ValueError) as exc:
            return _json(400, {"message": str(exc)})
        return _json(200, state())
    return _json(404, {"message": "unknown control endpoint"})
