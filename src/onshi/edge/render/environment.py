"""The template environment: sandboxed Jinja2, strict about undefined names.

Templates only print the policy; a sandbox keeps a template (ours today, a user's tomorrow) from
reaching into Python, and StrictUndefined turns a misspelt field into an error instead of an
empty line in a router configuration.
"""

from __future__ import annotations

import functools

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


@functools.cache
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=PackageLoader("onshi.edge.render", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # router configurations, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
