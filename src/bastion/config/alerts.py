"""Alert rules over the security events: the thresholds at which each one fires."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.config.reader import EnvReader, RateLimit


@dataclass(frozen=True, slots=True)
class AlertSettings:
    alert_signin_failures_account: RateLimit
    alert_signin_failures_ip: RateLimit
    alert_ratelimit_hits: RateLimit
    alert_api_key_denials: RateLimit
    alert_csp_reports: RateLimit
    alert_permission_denials: RateLimit
    alert_admin_address_memory: float  # seconds an admin's sign-in address is remembered


def read_alerts(env: EnvReader) -> AlertSettings:
    return AlertSettings(
        alert_signin_failures_account=env.limit("ALERT_SIGNIN_FAILURES_ACCOUNT", "10/15m"),
        alert_signin_failures_ip=env.limit("ALERT_SIGNIN_FAILURES_IP", "20/15m"),
        alert_ratelimit_hits=env.limit("ALERT_RATELIMIT_HITS", "100/5m"),
        alert_api_key_denials=env.limit("ALERT_API_KEY_DENIALS", "20/5m"),
        alert_csp_reports=env.limit("ALERT_CSP_REPORTS", "50/5m"),
        alert_permission_denials=env.limit("ALERT_PERMISSION_DENIALS", "20/5m"),
        alert_admin_address_memory=env.seconds("ALERT_ADMIN_ADDRESS_MEMORY", "90d"),
    )
