from __future__ import annotations

from typing import Any

import pytest

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.server.conftest import SECRET, Tokens, server, server_factory, tokens  # noqa: F401 - shared fixtures


@pytest.fixture
def tokens_for() -> Any:
    def make(srv: Any) -> Tokens:
        return Tokens(Authority(load_config(srv.config), SECRET.encode()), srv)

    return make
