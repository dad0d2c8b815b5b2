"""OpenAI chat requests in Ollama's terms, and Ollama's NDJSON back as OpenAI chunks."""

from __future__ import annotations

import json

import httpx
import pytest

from bastion.gateway.ollama import ndjson, openai_chunks, to_ollama_chat, to_openai_completion
from bastion.gateway.upstreams import UpstreamFailure, UpstreamTooLarge


def test_content_parts_images_tools_and_options_are_translated() -> None:
    body = {
        "model": "ignored",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
        ],
        "stream": True,
        "max_tokens": 7,
        "stop": ["\n"],
        "seed": 1,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_object"},
    }
    assert to_ollama_chat(body, "llava:7b") == {
        "model": "llava:7b",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is this?", "images": ["iVBOR"]},
        ],
        "stream": True,
        "options": {"num_predict": 7, "stop": ["\n"], "seed": 1},
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "format": "json",
    }


async def _chunks(body: bytes) -> list[object]:
    lines = ndjson(httpx.Response(200, content=body), limit=1024)
    first = await anext(lines)
    out = [chunk async for chunk in openai_chunks(first, lines, "llama", 1)]
    return [
        data if data == "[DONE]" else json.loads(data)
        for data in (c.decode().removeprefix("data: ").strip() for c in out)
    ]


async def test_a_failure_after_the_first_line_ends_the_stream_with_an_error_event() -> None:
    good = json.dumps({"message": {"role": "assistant", "content": "Hi"}, "done": False})
    events = await _chunks(good.encode() + b"\n<html>\n")
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}  # type: ignore[index]
    assert events[1:] == [
        {
            "error": {
                "message": "The model server's answer is not valid JSON.",
                "type": "api_error",
                "code": "upstream_error",
            }
        },
        "[DONE]",
    ]


async def test_an_ollama_error_line_is_not_passed_on_verbatim() -> None:
    good = json.dumps({"message": {"content": "Hi"}, "done": False})
    bad = json.dumps({"error": "model runner crashed at /internal/path"})
    events = await _chunks(f"{good}\n{bad}\n".encode())
    assert "/internal/path" not in json.dumps(events)
    assert events[-2] == {
        "error": {
            "message": "The model server reported an error.",
            "type": "api_error",
            "code": "upstream_error",
        }
    }


def test_odd_messages_are_carried_as_far_as_they_make_sense() -> None:
    body = {
        "messages": [
            "just text",
            {
                "content": [
                    "not a part",
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": "data:image/jpeg;base64,/9j/"},
                    {"type": "image_url", "image_url": {"url": "data:no-comma"}},
                ]
            },
            {"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}], "name": "bot"},
        ]
    }
    assert to_ollama_chat(body, "llava")["messages"] == [
        {"role": "user", "content": "just text"},
        {"role": "user", "content": "Look", "images": ["/9j/"]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "t1"}], "name": "bot"},
    ]


def test_a_whole_answer_becomes_an_openai_completion() -> None:
    answer = {
        "message": {"role": "assistant", "content": "", "tool_calls": [{"id": "t1"}]},
        "done_reason": "length",
        "prompt_eval_count": 5,
        "eval_count": 7,
    }
    completion = to_openai_completion(answer, "llama", 1)
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "", "tool_calls": [{"id": "t1"}]},
            "finish_reason": "length",
        }
    ]
    assert completion["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    # Counts that are no counts are none: a bad server's answer is no crash.
    odd = to_openai_completion(
        {"message": {}, "prompt_eval_count": "many", "eval_count": True}, "m", 1
    )
    assert odd["usage"]["total_tokens"] == 0
    with pytest.raises(UpstreamFailure):
        to_openai_completion(["not", "an", "answer"], "llama", 1)


async def test_ndjson_refuses_an_overlong_line_and_reads_a_last_line_without_newline() -> None:
    with pytest.raises(UpstreamTooLarge):
        [line async for line in ndjson(httpx.Response(200, content=b"x" * 2048), limit=1024)]
    last = [line async for line in ndjson(httpx.Response(200, content=b'{"a":1}\n\n{"b":2}'), 64)]
    assert last == [{"a": 1}, {"b": 2}]
    with pytest.raises(UpstreamFailure):
        [line async for line in ndjson(httpx.Response(200, content=b"[1, 2]\n"), limit=64)]


async def test_the_last_line_carries_its_words_then_the_finish_and_usage() -> None:
    lines = [
        {"message": {"role": "assistant", "content": ""}, "done": False},
        {"message": {"tool_calls": [{"id": "t1"}]}, "done": False},
        {"message": {"content": "end"}, "done": True, "eval_count": 3},
    ]
    events = await _chunks("\n".join(json.dumps(line) for line in lines).encode())
    deltas = [event["choices"][0]["delta"] for event in events[:-1]]  # type: ignore[index]
    assert deltas == [{"role": "assistant"}, {"tool_calls": [{"id": "t1"}]}, {"content": "end"}, {}]
    assert events[-2]["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert events[-2]["usage"]["completion_tokens"] == 3  # type: ignore[index]
    assert events[-1] == "[DONE]"
