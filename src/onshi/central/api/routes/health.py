"""``GET /v1/health``: the trivial endpoint. It still needs a facility certificate (no anonymous
access) but touches neither the database nor the service — the benchmark's baseline."""

from __future__ import annotations

from fastapi import APIRouter

from onshi.central.api.routes import CertificateFacility

router = APIRouter(tags=["health"])


@router.get("/v1/health", summary="Is the service up (needs a facility certificate)")
async def health(_code: CertificateFacility) -> dict[str, str]:
    return {"status": "ok"}
