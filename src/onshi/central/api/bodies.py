"""Request bodies a route reads itself: parsed by pydantic from the raw bytes, documented by hand.

FastAPI's own body handling (``json.loads``, then validating the Python objects, inside its
dependency machinery) costs ≈ 0.05 ms of CPU an inquiry, a tenth of all the server spends on
one (docs/central/performance.md). A hot route therefore takes the :class:`~starlette.requests.Request`,
hands the bytes to the model's compiled validator (:meth:`pydantic.BaseModel.model_validate_json`)
and describes its body to OpenAPI with :func:`openapi_body`. Failures are the same
:class:`~fastapi.exceptions.RequestValidationError` FastAPI raises, so they reach the same
handler and read the same (``422 REQUEST_INVALID``, naming the field).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes) -> M:
    """``raw`` (the request body) as ``model``; not JSON or not valid → RequestValidationError."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        # Locations as FastAPI gives them (``body.<field>``). The input and the validator's
        # exception are left out: they hold the client's personal data, and no handler needs
        # them (the message names the field and the reason).
        errors = [
            {**e, "loc": ("body", *e["loc"])}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the route's required JSON body.

    The schema is inlined (its ``$defs`` resolved in place): FastAPI adds to the document's
    components only the models it parses itself.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }
