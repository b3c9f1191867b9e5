"""The network edge toolkit's exception tree, with stable error codes.

::

    EdgeError                      edge.*
    ├── ProfileError               edge.profile.*     a site profile that cannot exist
    ├── RenderError                edge.render        a template failed (a defect, not user input)
    ├── ConfigReadError            edge.config.read   a configuration file cannot be read
    ├── DataError                  edge.data          a packaged data table is malformed
    ├── DnsCheckError              edge.dns           the connectivity check cannot run at all
    └── SubsidyError               edge.subsidy.*     an impossible subsidy question

Adapters (the CLI) translate these to exit status 2 and a message; the code is printed so that
scripts and support staff can match on it instead of on wording.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error raised by :mod:`onshi.edge`."""

    code = "edge"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return f"{self.args[0]}" if self.args else self.code


class ProfileError(EdgeError):
    """A site profile that is impossible or unsafe (overlapping subnets, domains without a proxy…)."""

    code = "edge.profile"


class RenderError(EdgeError):
    """A template failed to render: always a defect in the toolkit, never in the user's input."""

    code = "edge.render"


class ConfigReadError(EdgeError):
    """A router configuration file cannot be read (missing, a directory, not text)."""

    code = "edge.config.read"


class DataError(EdgeError):
    """A packaged data table (areas, subsidy rules) is malformed."""

    code = "edge.data"


class DnsCheckError(EdgeError):
    """The DNS connectivity check cannot run (bad server address or port)."""

    code = "edge.dns"


class SubsidyError(EdgeError):
    """A subsidy question outside the rule table (unknown facility, no readers, negative cost)."""

    code = "edge.subsidy"
