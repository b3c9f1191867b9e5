"""The gateway's end-to-end tests build network namespaces and run strongSwan: root only.

Outside CI they are skipped, with the reason, where that is impossible; in CI (``CI`` set) a
missing piece is a failure, so the suite never passes by skipping its most important tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from onshi.vpn.gateway.config import EspEngine, detect_esp_engine
from tests.netns import Host, Lab, skip_reason


def require_netns() -> None:
    reason = skip_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"netns tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # charon's socket path must fit in a sockaddr_un (108 bytes): keep the name short.
    # pytest keeps the last runs' directories: the charon logs are there after a failure.
    return Path(tmp_path_factory.mktemp("gw"))


def esp_engine_of(host: Host) -> EspEngine:
    return detect_esp_engine(host.wrap)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_netns()
    with Lab() as built:
        yield built
