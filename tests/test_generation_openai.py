"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ropg.generation import (
    CachedGenerator,
    GenerationConfig,
    GenerationError,
    GenerationTimeoutError,
    RemoteGenerationError,
    get_generator,
)
from ropg.generation.openai_backend import OpenAIGenerator

SECRET = "sk-test-0123456789-very-secret"
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "show_progress": False}


@dataclass
class ServerState:
    """What the fake server does and saw. ``failures[prompt]`` is consumed one per request."""

    failures: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def make_handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            chat = self.path.endswith("/chat/completions")
            prompt = body["messages"][-1]["content"] if chat else body["prompt"]
            with state.lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                failure = state.failures[prompt].popleft() if state.failures[prompt] else None
            if failure == "slow":
                state.stop.wait(3)
                return
            if failure == "garbage":
                return self._send(200, b"not json")
            if failure == "empty":
                return self._send(200, {"choices": []})
            if failure and failure.startswith("echo-key"):  # a server that echoes the key
                status = int(failure.rpartition(":")[2])
                echoed = f"invalid key {self.headers.get('Authorization')} " * 40
                return self._send(status, {"error": {"message": echoed}})
            if failure is not None:
                return self._send(int(failure), {"error": {"message": f"failure {failure}"}})
            if chat:
                message = {"role": "assistant", "content": f"chat:{prompt}"}
                return self._send(200, {"choices": [{"message": message}]})
            return self._send(200, {"choices": [{"text": f"echo:{prompt}|{body['max_tokens']}"}]})

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    state.stop.set()
    httpd.shutdown()
    httpd.server_close()


def test_completions_in_order_with_concurrency(server: tuple[str, ServerState]) -> None:
    url, state = server
    generator = get_generator(f"openai:{url}#tiny-model", max_concurrency=4, **FAST)
    prompts = [f"prompt {i}" for i in range(20)]
    config = GenerationConfig(num_beams=1, max_new_tokens=7, stop=("|",))
    assert generator.generate(prompts, config) == [f"echo:{p}" for p in prompts]
    assert len(state.requests) == 20
    request = state.requests[0]
    assert request["path"] == "/v1/completions"
    assert request["body"]["model"] == "tiny-model"
    assert request["body"]["max_tokens"] == 7
    assert request["body"]["temperature"] == 0.0
    assert request["body"]["stop"] == ["|"]
    assert generator.identity["endpoint"] == "completions"


def test_chat_completions(server: tuple[str, ServerState]) -> None:
    url, state = server
    generator = get_generator(f"openai-chat:{url}#chat-model", system_prompt="be brief", **FAST)
    assert generator.generate(["hello", "world"]) == ["chat:hello", "chat:world"]
    body = state.requests[0]["body"]
    assert state.requests[0]["path"] == "/v1/chat/completions"
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert generator.identity["endpoint"] == "chat"
    assert generator.identity["system_prompt"] == "be brief"
    assert get_generator(f"openai:{url}#m", chat=True).chat


@pytest.mark.parametrize("status", ["429", "500"])
def test_retryable_status_then_success(
    server: tuple[str, ServerState], status: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, state = server
    state.failures["flaky"].append(status)
    generator = OpenAIGenerator(url, "m", **FAST)
    with caplog.at_level(logging.WARNING, logger="ropg.generation"):
        assert generator.generate(["flaky", "fine"]) == ["echo:flaky|128", "echo:fine|128"]
    assert sum(r["body"]["prompt"] == "flaky" for r in state.requests) == 2
    assert f"HTTP {status}" in caplog.text and "retry 1/5" in caplog.text


def test_retries_are_bounded(server: tuple[str, ServerState]) -> None:
    url, state = server
    state.failures["down"].extend(["503"] * 10)
    generator = OpenAIGenerator(url, "m", max_retries=2, **FAST)
    with pytest.raises(RemoteGenerationError, match="still failing after 3 attempts: HTTP 503"):
        generator.generate(["down"])
    assert len(state.requests) == 3


def test_client_errors_are_not_retried(server: tuple[str, ServerState]) -> None:
    url, state = server
    state.failures["bad"].append("400")
    with pytest.raises(RemoteGenerationError, match="HTTP 400: .*failure 400"):
        OpenAIGenerator(url, "m", **FAST).generate(["bad"])
    assert len(state.requests) == 1


def test_timeout_ends_in_a_clear_error(server: tuple[str, ServerState]) -> None:
    url, state = server
    state.failures["slow"].extend(["slow", "slow"])
    generator = OpenAIGenerator(url, "m", timeout=0.3, max_retries=1, **FAST)
    with pytest.raises(GenerationTimeoutError, match=r"timed out after 0.3 s \(2 attempts\)"):
        generator.generate(["slow"])
    assert len(state.requests) == 2


def test_unreachable_server(unused_port: int) -> None:
    generator = OpenAIGenerator(f"http://127.0.0.1:{unused_port}/v1", "m", max_retries=1, **FAST)
    with pytest.raises(RemoteGenerationError, match="unreachable after 2 attempts"):
        generator.generate(["x"])


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("failure", ["garbage", "empty"])
def test_malformed_answers(server: tuple[str, ServerState], failure: str) -> None:
    url, state = server
    state.failures["x"].append(failure)
    with pytest.raises(RemoteGenerationError, match="invalid JSON|without choices"):
        OpenAIGenerator(url, "m", **FAST).generate(["x"])


def test_beam_search_is_refused(server: tuple[str, ServerState]) -> None:
    url, _ = server
    generator = OpenAIGenerator(url, "m", **FAST)
    assert generator.config.num_beams == 1
    with pytest.raises(GenerationError, match="does not beam-search"):
        generator.generate(["x"], GenerationConfig(num_beams=4))


def test_api_key_is_sent_but_never_leaked(
    server: tuple[str, ServerState],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    url, state = server
    monkeypatch.setenv("ROPG_TEST_KEY", SECRET)
    state.failures["flaky"].append("429")
    with caplog.at_level(logging.DEBUG):
        generator = get_generator(f"openai:{url}#m", api_key_env="ROPG_TEST_KEY", **FAST)
        cached = CachedGenerator(generator, tmp_path / "cache.sqlite")
        assert cached.generate(["flaky", "ok"]) == ["echo:flaky|128", "echo:ok|128"]
        cached.cache.close()
    assert {r["headers"]["Authorization"] for r in state.requests} == {f"Bearer {SECRET}"}
    assert "429" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(generator) and "ROPG_TEST_KEY" in repr(generator)
    assert SECRET not in json.dumps(generator.identity)
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert stored and SECRET.encode() not in stored


def test_no_key_no_header(server: tuple[str, ServerState], monkeypatch: pytest.MonkeyPatch) -> None:
    url, state = server
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    OpenAIGenerator(url, "m", **FAST).generate(["x"])
    assert "Authorization" not in state.requests[0]["headers"]


def test_spec_errors() -> None:
    with pytest.raises(GenerationError, match="no model name"):
        get_generator("openai:http://127.0.0.1:1/v1")
    with pytest.raises(GenerationError, match="must start with http"):
        get_generator("openai:localhost:8000/v1#m")
    generator = get_generator("openai:http://127.0.0.1:1/v1", model="named")
    assert generator.model == "named"
    redacted = OpenAIGenerator("http://user:pw@127.0.0.1:1/v1", "m")
    assert "pw" not in repr(redacted)


@pytest.mark.parametrize("status", [401, 503])
def test_a_key_the_server_echoes_never_reaches_a_message_or_a_log(
    status: int,
    server: tuple[str, ServerState],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Item 12 of issue 17: the error body of a server that echoes the Authorization header
    (on a refused request, and on retried ones) is shown with the key replaced by ***."""
    url, state = server
    monkeypatch.setenv("ROPG_TEST_KEY", SECRET)
    state.failures["p"].extend([f"echo-key:{status}"] * 3)
    generator = get_generator(f"openai:{url}#m", api_key_env="ROPG_TEST_KEY", max_retries=2, **FAST)
    with caplog.at_level(logging.DEBUG), pytest.raises(RemoteGenerationError) as error:
        generator.generate(["p"])
    assert "invalid key Bearer ***" in str(error.value)
    assert SECRET not in str(error.value) and SECRET[:12] not in str(error.value)
    assert SECRET not in caplog.text
    from ropg.cli.common import user_errors_exit_2

    @user_errors_exit_2
    def main(argv: Any = None) -> int:
        state.failures["p"].extend([f"echo-key:{status}"] * 3)
        return generator.generate(["p"]) and 0

    assert main() == 2
    err = capsys.readouterr().err
    assert SECRET not in err
    assert err.strip().splitlines()[-1].startswith("error: ") and "Bearer ***" in err
