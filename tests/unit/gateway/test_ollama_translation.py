"""OpenAI chat requests in Ollama's terms, and Ollama's NDJSON back as OpenAI chunks."""

from __future__ import annotations

import json

import httpx

from bastion.gateway.ollama import ndjson, openai_chunks, to_ollama_chat


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
