"""Reading any OQS message (a result, a face file, an ``.err`` file) back into nested dicts."""

from __future__ import annotations

from typing import Any

from onshi.oqs.messages import tree
from onshi.oqs.messages.encoding import Encoding
from onshi.oqs.messages.safety import parse
from onshi.oqs.messages.schemas import validate


def read_message(data: bytes, *, schema: str | None = None) -> tuple[dict[str, Any], Encoding]:
    """``{"MessageHeader": {...}, "MessageBody": {...}}`` and the file's encoding.

    Parsed with the same limits as requests; validated against ``schema`` (``"face"``,
    ``"OQSsiquc01res"``…) when given. Repeatable elements are always lists.
    """
    root, encoding = parse(data)
    if schema is not None:
        validate(schema, root)
    return tree.read(root), encoding
