"""The HTTPS API of the central eligibility service (the facilities' side of オンライン資格確認).

``create_app`` builds the FastAPI app around the service; :mod:`.server` runs it under
mutual TLS and hands the client certificate to :mod:`.identity`. Routes live in
:mod:`.routes`, request bodies in :mod:`.schemas`, the HTTP face of errors in :mod:`.errors`.
"""

from __future__ import annotations

from onshi.central.api.app import create_app

__all__ = ["create_app"]
