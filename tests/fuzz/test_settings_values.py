"""Every variable Bastion reads, given values an administrator could mistype or paste:
the start either works or stops with the one-line error that names the variable, and
``bastion check --deploy`` reads what the start accepted without failing. Never a
traceback."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from bastion.checks import Target, run_checks
from bastion.config import SettingsError, load_settings
from bastion.http.header_values import build_security_headers

VALUES = [
    "", " ", "\u00b2", "\u0665", "-1", "0", "1e309", "nan", "inf", "9" * 400, "a" * 5000,
    "\x00", "a\nb", "\u00e9" * 10, "%", "*", ",,,", ";;", "true,false", "../../x",
    "1/0s", "0/0", "-5/1m", "1/-1m", "99999999999999999999/1s",
    "http://", "://", "[::1", "http://[::1", "http://a:99999", "https://user:pw@h/?q#f",
    "redis://:@", "unix://", "postgresql://", "sqlite:////nonexistent/dir/x.db",
]  # fmt: skip


class _Recording(dict[str, str]):
    """An environment that notes every name asked of it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def _variables(data_dir: Path) -> list[str]:
    environ = _Recording({"DATA_DIR": str(data_dir)})
    load_settings(environ)
    return sorted(environ.asked)


def test_no_value_of_any_variable_stops_the_start_with_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths among the values land here
    data_dir = tmp_path / "data"
    variables = _variables(data_dir)
    assert len(variables) > 100 and "WEBUI_URL" in variables  # the reader was followed
    refused: set[str] = set()
    for name in variables:
        for value in VALUES:
            environ = {"DATA_DIR": str(data_dir), "WEBUI_SECRET_KEY": "k" * 43, name: value}
            try:
                settings = load_settings(environ)
            except SettingsError as error:
                assert str(error).startswith(f"{error.variable}: ") and "\n" not in str(error)
                refused.add(name)
                continue
            build_security_headers(settings)
            list(run_checks(Target(settings), deploy=True))
    assert {"WEBUI_URL", "REDIS_URL", "AUDIT_SYSLOG_ADDRESS", "UPLOAD_DIR"} <= refused
