"""Second factors: who must have one, the keys that seal their secrets, passkey sign-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bastion.config.auth import AuthSettings
from bastion.config.reader import EnvReader, SettingsError
from bastion.config.secret_key import KNOWN_DEFAULT_SECRETS, MIN_SECRET_KEY_LENGTH

RequireMfa = Literal["off", "admin", "all"]


@dataclass(frozen=True, slots=True)
class MfaSettings:
    # Who must enrol a second factor before using anything but the enrolment pages.
    require_mfa: RequireMfa
    # The keys that seal TOTP secrets, newest first: MFA_ENCRYPTION_KEY, else
    # WEBUI_SECRET_KEY and its fallbacks. A former key stays listed until rotated out.
    encryption_keys: tuple[str, ...] = field(repr=False)
    enable_passkey_login: bool
    webui_name: str  # the issuer an authenticator app shows beside the account


def read_mfa(env: EnvReader, auth: AuthSettings) -> MfaSettings:
    keys = env.csv("MFA_ENCRYPTION_KEY")
    for key in keys:
        if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in KNOWN_DEFAULT_SECRETS:
            raise SettingsError(
                "MFA_ENCRYPTION_KEY",
                "a key is short or a known default",
                f"list keys of at least {MIN_SECRET_KEY_LENGTH} random characters, newest first",
            )
    if not keys:
        keys = (auth.secret_key, *auth.secret_key_fallbacks)
    require: RequireMfa = env.choice("REQUIRE_MFA", "off", ("off", "admin", "all"))  # type: ignore[assignment]
    return MfaSettings(
        require_mfa=require,
        encryption_keys=keys,
        enable_passkey_login=env.flag("ENABLE_PASSKEY_LOGIN", False),
        webui_name=env.text("WEBUI_NAME", "Bastion") or "Bastion",
    )
