"""OpenAI chat completions spoken to Ollama: the request to ``/api/chat``, the answer back.

Ollama streams NDJSON (one JSON object a line); OpenAI clients expect server-sent events
of ``chat.completion.chunk`` objects ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bastion.gateway.upstreams import UpstreamFailure, UpstreamTooLarge, translate_errors
from bastion.jsondata import parse_json

# OpenAI sampling parameters and their names among Ollama's options.
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
    "stop": "stop",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        return {"role": "user", "content": str(message)}
    content = message.get("content")
    out: dict[str, Any] = {"role": message.get("role", "user")}
    if isinstance(content, list):  # content parts: text joined, data-URL images attached
        texts, images = [], []
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                url = part.get("image_url", {})
                url = url.get("url", "") if isinstance(url, dict) else str(url)
                if url.startswith("data:") and "," in url:
                    images.append(url.split(",", 1)[1])
        out["content"] = "\n".join(texts)
        if images:
            out["images"] = images
    else:
        out["content"] = "" if content is None else content
    for key in ("tool_calls", "name"):
        if key in message:
            out[key] = message[key]
    return out


def to_ollama_chat(body: dict[str, Any], model: str) -> dict[str, Any]:
    options = {
        target: body[source] for source, target in _OPTIONS.items() if body.get(source) is not None
    }
    request: dict[str, Any] = {
        "model": model,
        "messages": [_message(message) for message in body.get("messages") or []],
        "stream": bool(body.get("stream", False)),
    }
    if options:
        request["options"] = options
    if body.get("tools"):
        request["tools"] = body["tools"]
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        request["format"] = "json"
    return request


def _finish_reason(line: dict[str, Any]) -> str:
    reason = line.get("done_reason") or "stop"
    return "length" if reason == "length" else "stop"


def _usage(line: dict[str, Any]) -> dict[str, int]:
    prompt, completion = _count(line.get("prompt_eval_count")), _count(line.get("eval_count"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _count(value: Any) -> int:
    """A token count as the model server gave it; anything but a count is none."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def to_openai_completion(answer: Any, model: str, created: int) -> dict[str, Any]:
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), dict):
        raise UpstreamFailure("The model server's answer is not in the expected format.")
    message = answer["message"]
    reply: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
    if message.get("tool_calls"):
        reply["tool_calls"] = message["tool_calls"]
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": reply, "finish_reason": _finish_reason(answer)}],
        "usage": _usage(answer),
    }


def sse(data: Any) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


async def ndjson(response: httpx.Response, limit: int) -> AsyncIterator[dict[str, Any]]:
    """Objects from an NDJSON body; a line over ``limit`` bytes or not JSON is a failure."""
    buffer = b""
    with translate_errors():
        async for chunk in response.aiter_bytes():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > limit:
                raise UpstreamTooLarge
            for line in lines:
                if line.strip():
                    yield _object(line)
    if buffer.strip():
        yield _object(buffer)


def _object(line: bytes) -> dict[str, Any]:
    try:
        value = parse_json(line)
    except ValueError:
        raise UpstreamFailure("The model server's answer is not valid JSON.") from None
    if not isinstance(value, dict):
        raise UpstreamFailure("The model server's answer is not in the expected format.")
    if "error" in value:
        raise UpstreamFailure("The model server reported an error.")
    return value


async def openai_chunks(
    first: dict[str, Any], rest: AsyncIterator[dict[str, Any]], model: str, created: int
) -> AsyncIterator[bytes]:
    """Ollama's stream as OpenAI SSE; a failure mid-stream becomes an error event."""
    chunk_id = completion_id()

    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
                **extra,
            }
        )

    line: dict[str, Any] | None = first
    role_sent = False
    try:
        while line is not None:
            message = line.get("message") or {}
            delta: dict[str, Any] = {}
            if not role_sent:
                delta["role"] = "assistant"
                role_sent = True
            if message.get("content"):
                delta["content"] = message["content"]
            if message.get("tool_calls"):
                delta["tool_calls"] = message["tool_calls"]
            if line.get("done"):
                if delta.keys() - {"role"}:
                    yield chunk(delta, None)
                yield chunk({}, _finish_reason(line), usage=_usage(line))
                break
            if delta:
                yield chunk(delta, None)
            line = await anext(rest, None)
    except UpstreamFailure as failure:
        yield sse({"error": failure.body()["error"]})
    yield SSE_DONE
