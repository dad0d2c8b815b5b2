"""The upstream settings: index-aligned keys, validated URLs, keys never in a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import Settings, SettingsError, load_settings
from bastion.gateway.upstreams import Upstream, upstreams_from


def _load(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"DATA_DIR": str(tmp_path), **env})


def test_defaults_have_no_upstreams_and_model_access_control_on(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert upstreams_from(settings) == ()
    assert settings.gateway.bypass_model_access_control is False
    assert (settings.gateway.model_list_cache_ttl, settings.gateway.upstream_read_timeout) == (
        10.0,
        300.0,
    )
    assert settings.gateway.upstream_max_response_size == 16 * 1024 * 1024


def test_keys_are_index_aligned_with_urls_and_an_empty_entry_means_no_key(
    tmp_path: Path,
) -> None:
    settings = _load(
        tmp_path,
        OPENAI_API_BASE_URLS="https://a.example/v1/; http://b.example:8000/v1;https://c.example",
        OPENAI_API_KEYS="sk-a;;",
        OLLAMA_BASE_URLS="http://ollama:11434",
    )
    assert upstreams_from(settings) == (
        Upstream("openai", 0, "https://a.example/v1", "sk-a"),
        Upstream("openai", 1, "http://b.example:8000/v1", ""),
        Upstream("openai", 2, "https://c.example", ""),
        Upstream("ollama", 0, "http://ollama:11434"),
    )
    assert "sk-a" not in repr(settings) and "sk-a" not in repr(upstreams_from(settings))


def test_disabled_apis_have_no_upstreams(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        OPENAI_API_BASE_URLS="https://a.example/v1",
        OLLAMA_BASE_URLS="http://ollama:11434",
        ENABLE_OPENAI_API="false",
        ENABLE_OLLAMA_API="false",
    )
    assert upstreams_from(settings) == ()


def test_more_keys_than_urls_is_refused_without_printing_a_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, OPENAI_API_BASE_URLS="https://a.example", OPENAI_API_KEYS="sk-1;sk-2")
    assert str(refused.value) == (
        "OPENAI_API_KEYS: 2 keys for 1 URLs in OPENAI_API_BASE_URLS. Fix: give one key per URL, "
        "in the same order (an empty entry for a URL without key)."
    )


@pytest.mark.parametrize(
    "urls",
    [
        "ollama:11434",
        "ftp://host",
        "http://a.example;;http://b.example",
        "http://u:p@host",
        "http://h:99999",
        "http://a.example\\@127.0.0.1",  # hosts differ between parsers: the outbound refuses
        "http://exa mple.com",
    ],
)
def test_bad_upstream_urls_are_refused(tmp_path: Path, urls: str) -> None:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, OLLAMA_BASE_URLS=urls)
    assert refused.value.variable == "OLLAMA_BASE_URLS"
    assert "u:p" not in str(refused.value)


def test_a_key_with_a_character_no_key_has_is_refused_without_printing_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, OPENAI_API_BASE_URLS="https://a.example", OPENAI_API_KEYS="sk-a\u00e9b")
    assert refused.value.variable == "OPENAI_API_KEYS"
    assert "sk-a" not in str(refused.value)


def test_bad_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, MODEL_UPSTREAM_READ_TIMEOUT="soon")
    assert refused.value.variable == "MODEL_UPSTREAM_READ_TIMEOUT"
