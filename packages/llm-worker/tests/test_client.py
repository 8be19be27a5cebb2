"""The HTTP client against the scripted server: retries counted by reason, timeouts, keys."""

from __future__ import annotations

import time

import pytest

from mosaic_llm.client import ChatClient, EndpointError
from mosaic_llm.scripted_server import ScriptedServer

MESSAGES = [{"role": "user", "content": "Legal actions: left, right\nGo."}]


def client_for(server: ScriptedServer, **options: object) -> ChatClient:
    settings: dict[str, object] = {"timeout": 5.0, "max_retries": 3, "backoff": 0.01}
    settings.update(options)
    return ChatClient(server.url, "scripted", **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("500", "5xx"), ("503", "5xx"), ("429", "429"), ("malformed", "malformed"),
     ("drop", "connection")],
)  # fmt: skip
def test_a_transient_failure_is_retried_and_counted(fault: str, reason: str) -> None:
    with ScriptedServer(faults=[fault, fault]) as server:
        client = client_for(server)
        reply = client.chat(MESSAGES)
    assert reply.content is not None and "Action: left" in reply.content
    assert reply.attempts == 3
    assert client.stats.retries == 2 and client.stats.retry_reasons == {reason: 2}
    assert client.stats.requests == 3


def test_a_slow_reply_times_out_and_the_retry_succeeds() -> None:
    with ScriptedServer(faults=[("slow", 1.5)]) as server:
        client = client_for(server, timeout=0.3)
        started = time.perf_counter()
        reply = client.chat(MESSAGES)
    assert reply.attempts == 2 and client.stats.retry_reasons == {"timeout": 1}
    assert time.perf_counter() - started < 1.5


def test_retries_run_out_with_an_error_naming_the_endpoint_and_the_status() -> None:
    with ScriptedServer(faults=["503"] * 5) as server:
        client = client_for(server, max_retries=2)
        with pytest.raises(EndpointError) as caught:
            client.chat(MESSAGES)
    assert caught.value.status == 503 and caught.value.transient
    assert "HTTP 503" in str(caught.value) and "after 3 attempts" in str(caught.value)
    assert server.url in str(caught.value)
    assert client.stats.failures == 1 and client.stats.retries == 2


def test_backoff_doubles_and_follows_retry_after() -> None:
    waits: list[float] = []
    with ScriptedServer(faults=["500", "500", "429"]) as server:
        client = client_for(server, backoff=0.25, sleep=waits.append)
        client.chat(MESSAGES)
    assert waits == [0.25, 0.5, 0.0]  # 429 carries Retry-After: 0


def test_a_client_error_is_not_retried() -> None:
    with ScriptedServer(faults=["400"]) as server:
        client = client_for(server)
        with pytest.raises(EndpointError) as caught:
            client.chat(MESSAGES)
    assert caught.value.status == 400 and not caught.value.transient
    assert client.stats.requests == 1 and client.stats.retries == 0


def test_probing_raises_a_500_at_once_but_still_retries_a_429() -> None:
    with ScriptedServer(faults=["429", "500"]) as server:
        client = client_for(server)
        with pytest.raises(EndpointError) as caught:
            client.chat(MESSAGES, retry_errors=False)
    assert caught.value.status == 500 and not caught.value.transient
    assert client.stats.retry_reasons == {"429": 1}


def test_usage_is_added_up_and_the_key_travels_only_in_the_header() -> None:
    with ScriptedServer() as server:
        client = client_for(server, api_key="sk-test-abc")
        client.chat(MESSAGES)
        client.chat(MESSAGES)
    assert client.stats.prompt_tokens > 0 and client.stats.completion_tokens == 14
    for request in server.requests:
        assert request["headers"]["Authorization"] == "Bearer sk-test-abc"
        assert "sk-test-abc" not in str(request["body"])
    assert server.requests[0]["path"] == "/v1/chat/completions"


def test_one_connection_is_kept_alive_across_requests() -> None:
    with ScriptedServer() as server:
        client = client_for(server)
        client.chat(MESSAGES)
        first = client._conn
        client.chat(MESSAGES)
        assert client._conn is first and first is not None


def test_a_bare_host_gets_v1() -> None:
    assert ChatClient("http://example.org:8000", "m").url == (
        "http://example.org:8000/v1/chat/completions"
    )
