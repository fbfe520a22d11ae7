"""A scripted OpenAI-compatible chat server, so the real OpenAI client path can be tested.

Serves ``POST /v1/chat/completions`` (SSE streaming and plain JSON) and ``GET /v1/models`` on
127.0.0.1 with the timing of :mod:`llmcompiler_scripted.timing`. Run in-process (context manager or
``start()``/``stop()``) or as a process::

    python -m llmcompiler_scripted.server --port 0 --script replies.json [--profile NAME]
        [--time-scale F] [--loop]
    python -m llmcompiler_scripted.server --port 0 --respond package.module.function
        [--respond-kwargs "{'name': 1}"] [--profile NAME] [--time-scale F]

which prints its base URL (``http://127.0.0.1:PORT/v1``) on stdout once listening
(:func:`llmcompiler_scripted.child.served_in_child` runs it so, for the load benchmark).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import importlib
import json
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from langchain_core.messages import AIMessage

from llmcompiler_scripted.chat_model import (
    Delta,
    Reply,
    ScriptExhaustedError,
    apply_stop,
    capped,
    to_ai_message,
    to_deltas,
)
from llmcompiler_scripted.timing import (
    PROFILES,
    ModelProfile,
    StreamClock,
    count_prompt_tokens,
    paced_sync,
)


def streamed(body: dict[str, Any], reply: Reply) -> tuple[AIMessage, list[Delta], str]:
    """What the server sends for `reply` to the request `body`: the message cut at the
    request's stop sequence, its output tokens under the request's cap, the finish reason."""
    message = apply_stop(to_ai_message(reply), body.get("stop"))
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    deltas, finish = capped(to_deltas(message), cap, message)
    return message, deltas, finish


ServerResponder = Callable[[list[dict[str, Any]]], Reply]
"""Called with a request's ``messages``; a dict with ``"status"`` is an HTTP error."""

_ERROR_KINDS = {
    400: ("invalid_request_error", "bad_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind, code = _ERROR_KINDS.get(status, ("server_error", "server_error"))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class ScriptedOpenAIServer:
    """OpenAI-compatible server replaying ``responses`` in order (or asking ``respond``).

    A reply is a string, an ``AIMessage`` or a dict ``{"content", "tool_calls"}`` (see
    :func:`llmcompiler_scripted.chat_model.to_ai_message`); ``{"status": 429}`` (optionally with
    ``"message"`` and ``"headers"``) answers with that HTTP error and an OpenAI-style body.
    With ``loop`` the script cycles forever. Every request body is kept in ``requests``.
    """

    def __init__(
        self,
        responses: Sequence[Reply] = (),
        *,
        respond: ServerResponder | None = None,
        timing: ModelProfile = PROFILES["instant"],
        loop: bool = False,
        port: int = 0,
    ) -> None:
        if respond is not None and responses:
            raise ValueError("give either `responses` or `respond`, not both")
        self.responses = list(responses)
        self.respond = respond
        self.timing = timing
        self.loop = loop
        self.requests: list[dict[str, Any]] = []
        self._port = port
        self._lock = threading.Lock()
        self._next = 0
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (a free one when constructed with ``port=0``)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to an OpenAI client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns at once, ready for requests."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", self._port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut off streams in flight (they end without ``[DONE]``)."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        """Record the request and pick its reply (thread-safe)."""
        with self._lock:
            self.requests.append(body)
            if self.respond is None:
                if not self.responses or (self._next >= len(self.responses) and not self.loop):
                    raise ScriptExhaustedError(
                        f"ScriptedOpenAIServer script exhausted: request {self._next + 1} but "
                        f"only {len(self.responses)} scripted responses"
                    )
                self._next += 1
                return self.responses[(self._next - 1) % len(self.responses)]
        return self.respond(body.get("messages") or [])


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's default of 5 drops connections under load

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        owner: ScriptedOpenAIServer,
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 with chunked bodies lets the client read SSE events as they are written.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean: no access log."""

    def do_GET(self) -> None:
        self.close_connection = True  # one request per connection: nothing lingers after stop
        if self.path.rstrip("/") != "/v1/models":
            self._json(404, _error_body(404, f"no route GET {self.path}"))
            return
        model = {"id": "scripted", "object": "model", "created": 0, "owned_by": "scripted"}
        self._json(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        start = time.monotonic()
        self.close_connection = True
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, _error_body(404, f"no route POST {self.path}"))
            return
        try:
            body = json.loads(raw)
            reply = self.server.owner._next_reply(body)
        except ScriptExhaustedError as exc:
            self._json(500, _error_body(500, str(exc)))
            return
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self._json(500, _error_body(500, f"scripted server error: {exc!r}"))
            return
        if isinstance(reply, dict) and "status" in reply:
            status = int(reply["status"])
            message = reply.get("message") or f"scripted HTTP {status} error"
            self._json(status, _error_body(status, message), reply.get("headers") or {})
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client went away
            self._complete(body, reply, start)

    def _complete(self, body: dict[str, Any], reply: Reply, start: float) -> None:
        owner = self.server.owner
        message, deltas, finish = streamed(body, reply)
        prompt_tokens = count_prompt_tokens(body.get("messages") or [], body.get("tools") or [])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(deltas),
            "total_tokens": prompt_tokens + len(deltas),
        }
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": body.get("model") or "scripted",
            "system_fingerprint": None,
        }
        if not body.get("stream"):
            # Answer when the last token would have been decoded.
            clock = StreamClock(owner.timing, prompt_tokens, start)
            if not clock.wait_sync(max(len(deltas) - 1, 0), owner._stopping):
                return
            reply_message: dict[str, Any] = {"role": "assistant", "content": message.text or None}
            if message.tool_calls:
                reply_message["tool_calls"] = _openai_tool_calls(deltas)
            choice = {"index": 0, "message": reply_message, "finish_reason": finish}
            self._json(
                200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
            return

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = {**base, "object": "chat.completion.chunk"}
        pieces = deltas or [Delta()]  # an empty reply still sends its role at first token
        for index, delta in enumerate(
            paced_sync(pieces, owner.timing, prompt_tokens, start, owner._stopping)
        ):
            payload = _openai_delta(delta)
            if index == 0:
                payload = {"role": "assistant", **payload}
            self._event({**chunk, "choices": [_choice(payload, None)]})
        if owner._stopping.is_set():
            return
        self._event({**chunk, "choices": [_choice({}, finish)]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event({**chunk, "choices": [], "usage": usage})
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _event(self, data: dict[str, Any]) -> None:
        self._write_chunk(f"data: {json.dumps(data)}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _json(
        self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


def _choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}


def _openai_delta(delta: Delta) -> dict[str, Any]:
    """One output token in OpenAI's streaming ``delta`` format."""
    if delta.call_index is None:
        return {"content": delta.text}
    call: dict[str, Any] = {"index": delta.call_index, "function": {"arguments": delta.args}}
    if delta.call_id is not None:
        call = {**call, "id": delta.call_id, "type": "function"}
        call["function"] = {"name": delta.name, **call["function"]}
    return {"tool_calls": [call]}


def _openai_tool_calls(deltas: list[Delta]) -> list[dict[str, Any]]:
    """Whole tool calls (non-streaming format) reassembled from their deltas."""
    calls: list[dict[str, Any]] = []
    for delta in deltas:
        if delta.call_id is not None:
            function = {"name": delta.name, "arguments": delta.args}
            calls.append({"id": delta.call_id, "type": "function", "function": function})
        elif delta.call_index is not None:
            calls[delta.call_index]["function"]["arguments"] += delta.args
    return calls


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a JSON script (a list of replies), or a `respond` function imported by dotted
    path, until interrupted or terminated."""
    parser = argparse.ArgumentParser(
        prog="python -m llmcompiler_scripted.server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--script", type=Path, help="JSON list of replies")
    source.add_argument(
        "--respond", metavar="PATH", help="dotted path of a respond(messages) function"
    )
    parser.add_argument(
        "--respond-kwargs",
        type=_literal_kwargs,
        default={},
        metavar="DICT",
        help="keyword arguments bound to --respond's function (a Python literal)",
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="instant")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--loop", action="store_true", help="cycle through the script forever")
    args = parser.parse_args(argv)
    if args.respond_kwargs and not args.respond:
        parser.error("--respond-kwargs goes with --respond")
    script: list[Reply] = []
    respond: ServerResponder | None = None
    if args.respond:
        module, _, name = args.respond.rpartition(".")
        try:
            function = getattr(importlib.import_module(module), name)
        except (ImportError, ValueError, AttributeError) as exc:
            parser.error(f"--respond {args.respond}: {exc}")
        respond = functools.partial(function, **args.respond_kwargs)
    else:
        script = json.loads(args.script.read_text())
        if not isinstance(script, list):
            parser.error("--script must hold a JSON list of replies")
    timing = PROFILES[args.profile].scaled(args.time_scale)
    server = ScriptedOpenAIServer(
        script, respond=respond, timing=timing, loop=args.loop, port=args.port
    )
    # SIGTERM ends the process like Ctrl-C, so in-flight streams are cut off cleanly.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with server:
        print(server.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _literal_kwargs(text: str) -> dict[str, Any]:
    """`--respond-kwargs`: a dict literal with string keys (values may be any literal)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise argparse.ArgumentTypeError(f"not a Python literal: {text!r}") from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise argparse.ArgumentTypeError(f"not a dict of keyword arguments: {text!r}")
    return value


if __name__ == "__main__":
    main()
