"""REQUIRE_MFA, MFA_ENCRYPTION_KEY and ENABLE_PASSKEY_LOGIN: defaults, checks, secrecy."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import Settings, SettingsError, load_settings

KEY = "k" * 16 + "0123456789abcdef"
OLD = "o" * 16 + "fedcba9876543210"


def _load(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"DATA_DIR": str(tmp_path / "data"), **env})


def test_defaults_derive_the_sealing_keys_from_the_secret_key_and_its_fallbacks(
    tmp_path: Path,
) -> None:
    settings = _load(tmp_path, WEBUI_SECRET_KEY=KEY, WEBUI_SECRET_KEY_FALLBACKS=OLD)
    assert settings.mfa.require_mfa == "off"
    assert settings.mfa.enable_passkey_login is False
    assert settings.mfa.encryption_keys == (KEY, OLD)
    assert settings.mfa.webui_name == "Bastion"


def test_a_dedicated_key_list_newest_first_is_used_and_never_shown(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        MFA_ENCRYPTION_KEY=f" {KEY} , {OLD} ",
        REQUIRE_MFA="Admin",
        ENABLE_PASSKEY_LOGIN="true",
    )
    assert settings.mfa.encryption_keys == (KEY, OLD)
    assert settings.mfa.require_mfa == "admin"
    assert settings.mfa.enable_passkey_login is True
    assert KEY not in repr(settings) and OLD not in repr(settings)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MFA_ENCRYPTION_KEY": "too-short"}, "MFA_ENCRYPTION_KEY"),
        ({"MFA_ENCRYPTION_KEY": f"{KEY},changeme"}, "MFA_ENCRYPTION_KEY"),
        ({"REQUIRE_MFA": "sometimes"}, "REQUIRE_MFA"),
        ({"ENABLE_PASSKEY_LOGIN": "maybe"}, "ENABLE_PASSKEY_LOGIN"),
    ],
)
def test_bad_values_are_refused_with_one_line(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, **env)
    assert str(raised.value).startswith(f"{variable}: ") and "\n" not in str(raised.value)
