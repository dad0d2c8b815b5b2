"""The ``ALERT_*`` thresholds: defaults, accepted values and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import SettingsError, load_settings
from bastion.config.reader import RateLimit


def test_alert_defaults(tmp_path: Path) -> None:
    alerts = load_settings({"DATA_DIR": str(tmp_path)}).alerts
    assert alerts.alert_signin_failures_account == RateLimit(10, 900.0)
    assert alerts.alert_signin_failures_ip == RateLimit(20, 900.0)
    assert alerts.alert_ratelimit_hits == RateLimit(100, 300.0)
    assert alerts.alert_api_key_denials == RateLimit(20, 300.0)
    assert alerts.alert_csp_reports == RateLimit(50, 300.0)
    assert alerts.alert_permission_denials == RateLimit(20, 300.0)
    assert alerts.alert_admin_address_memory == 90 * 86400


def test_alert_values_are_read(tmp_path: Path) -> None:
    alerts = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "ALERT_SIGNIN_FAILURES_ACCOUNT": "5/1h",
            "ALERT_RATELIMIT_HITS": "1000/1m",
            "ALERT_ADMIN_ADDRESS_MEMORY": "1w",
        }
    ).alerts
    assert alerts.alert_signin_failures_account == RateLimit(5, 3600.0)
    assert alerts.alert_ratelimit_hits == RateLimit(1000, 60.0)
    assert alerts.alert_admin_address_memory == 7 * 86400


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ALERT_SIGNIN_FAILURES_IP",
            "0/15m",
            "ALERT_SIGNIN_FAILURES_IP: '0/15m' is not a rate limit. Fix: use N/period",
        ),
        (
            "ALERT_CSP_REPORTS",
            "lots",
            "ALERT_CSP_REPORTS: 'lots' is not a rate limit. Fix: use N/period",
        ),
        (
            "ALERT_ADMIN_ADDRESS_MEMORY",
            "forever",
            "ALERT_ADMIN_ADDRESS_MEMORY: 'forever' is not a duration.",
        ),
    ],
)
def test_bad_alert_values_stop_the_start(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"DATA_DIR": str(tmp_path), name: value})
    assert str(raised.value).startswith(message)
