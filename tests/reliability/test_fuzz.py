"""Fuzzing: the HTTP API from its own OpenAPI document, and the config loader.

Whatever arrives, the answer is never a 500, a refused request changes nothing,
and a broken configuration is a ConfigError naming a field — never a traceback.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from queue_server.api import openapi_document
from queue_server.auth import Authority
from queue_server.config import parse_config
from queue_server.errors import ConfigError
from tests.conftest import ROOT
from tests.server.conftest import SECRET, Server, Tokens, write_test_config

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory):
    from queue_server.config import load_config
    from tests.conftest import free_port

    directory = tmp_path_factory.mktemp("fuzz")
    server = Server(write_test_config(directory), free_port())
    server.start()
    tokens = Tokens(Authority(load_config(server.config), SECRET.encode()), server)
    manager = tokens.login("admin")
    # some state for the fuzzer to poke at: a waiting ticket and an open window
    server.post("/api/v1/halls/demo/tickets", {"category": "tax", "channel": "counter"}, token=manager)
    server.post("/api/v1/halls/demo/windows/16/open", {"clerk": "c16"}, token=manager)
    yield server, manager
    server.stop()


# HALLQ_FUZZ_EXAMPLES=500 for a deeper run than the test command's default
FUZZ_EXAMPLES = int(os.environ.get("HALLQ_FUZZ_EXAMPLES", "25"))


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_500_or_half_applies(case, fuzz_server):
    server, manager = fuzz_server
    if case.path_parameters and "hall" in case.path_parameters:
        case.path_parameters["hall"] = "demo"  # unknown halls are covered in tests/server; go deeper here
    before = server.get("/api/v1/halls/demo/snapshot").body["seq"]
    response = case.call(base_url=server.base, headers={"Authorization": f"Bearer {manager}"}, timeout=15)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    after = server.get("/api/v1/halls/demo/snapshot").body["seq"]
    if response.status_code >= 400:
        body = response.json()
        error = body["error"]
        assert set(error) == {"code", "message", "field", "message_zh", "message_en", "details"}
        assert error["message"] and error["message_zh"]  # a refusal always says why, in Chinese first
        assert after == before, "a refused request changed the hall"
    else:
        assert after - before in (0, 1)  # one command, at most one event


# -------------------------------------------------------------------- config loader

EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=12),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(EXAMPLE)


@st.composite
def broken_configs(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(JUNK)
        except (KeyError, IndexError, TypeError):
            continue
    return doc


@given(broken_configs())
@settings(max_examples=150, deadline=None)
def test_a_broken_config_is_a_field_named_error_never_a_traceback(doc):
    try:
        parse_config(doc, "fuzzed.yaml")
    except ConfigError as err:
        assert err.issues
        for issue in err.issues:
            assert issue.message
    # anything else propagates and fails the test


def test_the_fuzzer_can_break_things(tmp_path: Path):
    """The mutation strategy does produce invalid files (so the test above is not vacuous)."""
    doc = copy.deepcopy(EXAMPLE)
    doc["windows"][3]["class"] = "nope"
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert str(info.value.issues[0]) == "windows[3].class: 未知窗口类别 'nope' (unknown window class 'nope')"


# -------------------------------------------------------------------- hand-made cases the generator does not make

GARBAGE_TOKENS = [b"\xff\xfe", b"dev.\xff\xfe.x", b"eyJyIjoibWFuYWdlciJ9.\xc3\x28.sig"]


@pytest.mark.parametrize("token", GARBAGE_TOKENS, ids=["not-utf8", "device-not-utf8", "session-not-utf8"])
def test_a_bearer_token_that_is_not_utf8_is_a_401_not_a_500(token, fuzz_server):
    """Header bytes that are not UTF-8 are simply a bad token: 401, like any other, on HTTP and WebSocket."""
    import http.client

    server, _ = fuzz_server
    for method, path in [("GET", "/api/v1/me"), ("GET", "/api/v1/halls/demo/events"),
                         ("POST", "/api/v1/halls/demo/windows/16/call-next")]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.putrequest(method, path)
        conn.putheader("Authorization", b"Bearer " + token)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        expected = 200 if path == "/api/v1/me" else 401  # /me answers for anyone: a bad token is a citizen
        assert resp.status == expected, (path, body)
        if path == "/api/v1/me":
            assert body["role"] == "citizen"
        else:
            assert body["error"]["code"] == "login_required"

    async def close_code(url: str) -> int:
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            return info.value.rcvd.code

    quoted = urllib.parse.quote_from_bytes(token)
    assert asyncio.run(close_code(f"{server.ws}/ws/manager?token={quoted}")) == 4401
