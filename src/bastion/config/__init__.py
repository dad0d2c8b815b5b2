"""Settings: read from the environment once, at start, into one frozen object.

Names follow open-webui so that an existing deployment's ``.env`` carries over. A bad
value stops the start with :class:`SettingsError` (one line: the variable, the problem,
the fix); a value with a documented safe fallback is replaced and a warning is kept in
``Settings.warnings`` so that the start can print it.

``reader`` (the environment reader and value parsers, a leaf), ``secret_key`` (the key
that signs everything), one module per area (``server``, ``auth``, ``http``, ``audit``,
``gateway``, ``files``, ``outbound``, ``redis``, ``ratelimit``), each with its frozen
section and the code that reads it, and ``settings`` (the sections composed, and
``load_settings``).
"""

from bastion.config.auth import CookieSecure, SameSite
from bastion.config.reader import IPNetwork, SettingsError, parse_duration, parse_size
from bastion.config.secret_key import SECRET_KEY_FILE, load_or_create_secret_file
from bastion.config.settings import Settings, load_settings

__all__ = [
    "SECRET_KEY_FILE",
    "CookieSecure",
    "IPNetwork",
    "SameSite",
    "Settings",
    "SettingsError",
    "load_or_create_secret_file",
    "load_settings",
    "parse_duration",
    "parse_size",
]
