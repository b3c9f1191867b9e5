"""Nested dicts (the central service's JSON) ⇄ XML text, driven by :mod:`shapes`.

Dicts are complex elements, lists (any sequence but text) repeat an element, strings (only
strings) are text; ``None``, ``""``, ``[]`` and ``{}`` are left out (the central service never
sends empty values).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from onshi.oqs.messages.encoding import GETA
from onshi.oqs.messages.errors import RenderError
from onshi.oqs.messages.shapes import REPEATED, Shapes

INDENT = "    "  # as the public sample face file

# Characters XML 1.0 cannot carry at all: written as 〓 like those Shift_JIS cannot.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# Either of the above: most values have neither and are written as they are.
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def absent(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise RenderError(f"{name} must be text, got {type(value).__name__}")
    if type(value) is str and _SPECIAL.search(value) is None:
        return value
    return _NOT_XML.sub(GETA, value).translate(_ESCAPES)


def write(name: str, value: Mapping[str, Any], shapes: Shapes) -> str:
    """``value`` as element ``name``, children in the order ``shapes`` gives, indented."""
    out: list[str] = []
    _element(out, name, value, shapes, 0, {})
    return "\n".join(out) + "\n"


def _element(
    out: list[str],
    name: str,
    value: object,
    shapes: Shapes,
    depth: int,
    allowed: dict[str, frozenset[str]],
) -> None:
    # Hot for bulk results (10,000 units, 270,000 elements): text children are written here,
    # without a call of their own, and each group's allowed names are made a set once a write.
    pad = INDENT * depth
    if not isinstance(value, Mapping):
        if name in shapes:
            raise RenderError(f"{name} must be a group of elements, got {type(value).__name__}")
        out.append(f"{pad}<{name}>{_text(name, value)}</{name}>")
        return
    order = shapes.get(name)
    if order is None:
        raise RenderError(f"{name} must be text, got a group of elements")
    names = allowed.get(name)
    if names is None:
        names = allowed[name] = frozenset(order)
    if not names.issuperset(value):
        unknown = sorted(set(value) - names)
        raise RenderError(f"{name} has no element {', '.join(unknown)} in this message")
    out.append(f"{pad}<{name}>")
    inner = pad + INDENT
    for child in order:
        item = value.get(child)
        if item is None:
            continue
        if type(item) is str and child not in shapes:
            if item:
                if _SPECIAL.search(item) is not None:
                    item = _NOT_XML.sub(GETA, item).translate(_ESCAPES)
                out.append(f"{inner}<{child}>{item}</{child}>")
            continue
        if absent(item):
            continue
        if isinstance(item, list | tuple) or (
            isinstance(item, Sequence) and not isinstance(item, str | bytes)
        ):
            if (name, child) not in REPEATED:
                raise RenderError(f"{child} occurs once in {name}, got a list")
            for each in item:
                if not absent(each):
                    _element(out, child, each, shapes, depth + 1, allowed)
        else:
            _element(out, child, item, shapes, depth + 1, allowed)
    out.append(f"{pad}</{name}>")


def read(elem: ET.Element) -> dict[str, Any]:
    """An element's children as a dict: groups as dicts, repeatable elements as lists, text stripped
    of nothing (InsurerNumber keeps its leading spaces)."""
    result: dict[str, Any] = {}
    for child in elem:
        value: Any = read(child) if len(child) else (child.text or "")
        if (elem.tag, child.tag) in REPEATED:
            result.setdefault(child.tag, []).append(value)
        else:
            result[child.tag] = value
    return result
