"""Rate limits and brute-force protection: the limits per route family, the sign-in
delays and lockouts, and how many keys the in-memory limiter keeps."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.config.reader import EnvReader, RateLimit


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    rate_limit_memory_max_keys: int
    signin_rate_limit_account_ip: RateLimit
    signin_rate_limit_ip: RateLimit
    signin_rate_limit_account: RateLimit
    signin_delay_after_failures: int
    signin_delay_base: float
    signin_delay_max: float
    signin_max_failures_account_ip: int
    signin_lockout_threshold: int
    signup_rate_limit: RateLimit
    password_change_rate_limit: RateLimit
    api_rate_limit_user: RateLimit
    api_rate_limit_key: RateLimit
    api_key_failure_rate_limit_ip: RateLimit
    costly_rate_limit: RateLimit
    web_fetch_rate_limit: RateLimit
    csp_report_rate_limit: RateLimit


def read_ratelimit(env: EnvReader) -> RateLimitSettings:
    return RateLimitSettings(
        rate_limit_memory_max_keys=env.integer(
            "RATE_LIMIT_MEMORY_MAX_KEYS", 100_000, minimum=100, maximum=100_000_000
        ),
        signin_rate_limit_account_ip=env.limit("SIGNIN_RATE_LIMIT_ACCOUNT_IP", "10/15m"),
        signin_rate_limit_ip=env.limit("SIGNIN_RATE_LIMIT_IP", "60/15m"),
        signin_rate_limit_account=env.limit("SIGNIN_RATE_LIMIT_ACCOUNT", "100/15m"),
        signin_delay_after_failures=env.integer(
            "SIGNIN_DELAY_AFTER_FAILURES", 3, minimum=0, maximum=100
        ),
        signin_delay_base=env.seconds("SIGNIN_DELAY_BASE", "1s"),
        signin_delay_max=env.seconds("SIGNIN_DELAY_MAX", "15m"),
        signin_max_failures_account_ip=env.integer(
            "SIGNIN_MAX_FAILURES_ACCOUNT_IP", 20, minimum=1, maximum=100
        ),
        signin_lockout_threshold=env.integer(
            "SIGNIN_LOCKOUT_THRESHOLD", 100, minimum=1, maximum=100
        ),
        signup_rate_limit=env.limit("SIGNUP_RATE_LIMIT", "10/1h"),
        password_change_rate_limit=env.limit("PASSWORD_CHANGE_RATE_LIMIT", "5/15m"),
        api_rate_limit_user=env.limit("API_RATE_LIMIT_USER", "1200/1m"),
        api_rate_limit_key=env.limit("API_RATE_LIMIT_KEY", "600/1m"),
        api_key_failure_rate_limit_ip=env.limit("API_KEY_FAILURE_RATE_LIMIT_IP", "60/1m"),
        costly_rate_limit=env.limit("COSTLY_RATE_LIMIT", "60/1m"),
        web_fetch_rate_limit=env.limit("WEB_FETCH_RATE_LIMIT", "20/1m"),
        csp_report_rate_limit=env.limit("CSP_REPORT_RATE_LIMIT", "30/1m"),
    )
