"""The secret key that signs tokens and derives every other key: configured, or generated
once into ``DATA_DIR`` and kept there 0600; known published defaults are refused.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bastion.config.reader import EnvReader, SettingsError

SECRET_KEY_FILE = ".webui_secret_key"  # noqa: S105 (a file name)


MIN_SECRET_KEY_LENGTH = 32


# Published defaults from tutorials, compose files and open-webui itself: a key that
# anyone can read forges every token, so these are refused whatever their length.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "t0p-s3cr3t",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "secret",
        "secret-key",
        "secretkey",
        "your-secret-key",
        "your_secret_key",
        "supersecret",
        "super-secret",
        "mysecret",
        "password",
        "default",
        "webui-secret-key",
        "open-webui",
        "please-change-me",
        "your-secret-key-here",
        "change-this-to-a-random-secret-key",
        "a-very-long-secret-key-that-nobody-will-guess",
    }
)


def secret_key(env: EnvReader, data_dir: Path) -> tuple[str, Path | None]:
    """The key, and the file it is kept in (``None`` when it is ``WEBUI_SECRET_KEY``)."""
    configured = env.raw("WEBUI_SECRET_KEY")
    if configured is not None and configured.strip():
        key = configured.strip()
        if key.lower() in KNOWN_DEFAULT_SECRETS:
            raise SettingsError(
                "WEBUI_SECRET_KEY",
                "it is a publicly known default, so anyone can forge tokens",
                "unset it to have one generated, or use `python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`",
            )
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                "WEBUI_SECRET_KEY",
                f"it is {len(key)} characters, under the minimum of {MIN_SECRET_KEY_LENGTH}",
                "unset it to have one generated, or use `python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`",
            )
        env.notices.append("secret key: from WEBUI_SECRET_KEY")
        return key, None
    path = data_dir / SECRET_KEY_FILE
    existed = path.exists()
    key = load_or_create_secret_file(path)
    env.notices.append(
        f"secret key: from {path}"
        if existed
        else f"secret key: WEBUI_SECRET_KEY is unset, so a new one was generated and saved to "
        f"{path} (mode 0600); keep that file, or every token and API key becomes invalid"
    )
    return key, path


def load_or_create_secret_file(path: Path) -> str:
    """The generated key: 256 random bits, kept 0600 and reused on every start."""
    key = _read_key_file(path)
    if key is not None:
        return key
    key = secrets.token_urlsafe(32)
    # Written whole to a file of its own, then linked into place: the key file is never
    # seen half-written, and of two workers starting at once, one key wins for both.
    draft = path.with_name(f"{path.name}.{secrets.token_hex(8)}.new")
    try:
        _write_new(draft, key)
        try:
            os.link(draft, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: written in place, then
            _write_new(path, key)
    except FileExistsError:
        won = _read_key_file(path)
        if won is None:  # something is in the way that holds no key: a dangling link
            raise SettingsError(
                "WEBUI_SECRET_KEY",
                f"{path} exists but cannot be read as a file",
                "remove it to have a new key generated, or set WEBUI_SECRET_KEY",
            ) from None
        return won
    except OSError as exc:
        raise SettingsError(
            "WEBUI_SECRET_KEY",
            f"the key file {path} cannot be created ({exc})",
            "make DATA_DIR writable or set WEBUI_SECRET_KEY",
        ) from None
    finally:
        draft.unlink(missing_ok=True)
    return key


def _write_new(path: Path, key: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")


def _read_key_file(path: Path) -> str | None:
    """The key the file holds, or None when there is no file."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            "WEBUI_SECRET_KEY",
            f"the key file {path} cannot be read ({exc})",
            "fix its permissions or set WEBUI_SECRET_KEY",
        ) from None
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            "WEBUI_SECRET_KEY",
            f"the key file {path} holds " + ("no key" if not key else "a key that is too short"),
            "delete the file to have a new key generated, or set WEBUI_SECRET_KEY",
        )
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return key


def fallback_keys(env: EnvReader) -> tuple[str, ...]:
    keys = env.csv("WEBUI_SECRET_KEY_FALLBACKS")
    for key in keys:
        if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in KNOWN_DEFAULT_SECRETS:
            raise SettingsError(
                "WEBUI_SECRET_KEY_FALLBACKS",
                "a fallback key is short or a known default",
                f"list only former keys of at least {MIN_SECRET_KEY_LENGTH} characters",
            )
    return keys
