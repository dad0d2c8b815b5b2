"""The deployment files that cannot run here (no container engine) are checked as text:
the image runs as a fixed non-root user with a health check, nothing is pulled by a
moving tag, Redis and PostgreSQL are never published, and `.env.example` names exactly the
security variables the settings read."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
CONFIG = Path(__file__).resolve().parents[3] / "src" / "bastion" / "config"

# Variables the settings read that are about security: each must be in .env.example.
SECURITY_VARIABLES = {
    "WEBUI_SECRET_KEY",
    "WEBUI_SECRET_KEY_FALLBACKS",
    "WEBUI_URL",
    "ALLOWED_HOSTS",
    "CORS_ALLOW_ORIGIN",
    "FORWARDED_ALLOW_IPS",
    "WEBUI_SESSION_COOKIE_SECURE",
    "WEBUI_SESSION_COOKIE_SAME_SITE",
    "WEBUI_AUTH_COOKIE_SECURE",
    "WEBUI_AUTH_COOKIE_SAME_SITE",
    "HSTS",
    "REDIS_URL",
    "DATABASE_URL",
    "ENABLE_SIGNUP",
    "DEFAULT_USER_ROLE",
    "ENABLE_API_KEYS",
    "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS",
    "API_KEYS_ALLOWED_ENDPOINTS",
    "ENABLE_PASSWORD_VALIDATION",
    "PASSWORD_MIN_LENGTH",
    "SIGNIN_RATE_LIMIT_IP",
    "SIGNIN_LOCKOUT_THRESHOLD",
    "ENABLE_API_DOCS",
    "MAX_REQUEST_BODY_SIZE",
    "AUDIT_LOG_LEVEL",
    "ENABLE_AUDIT_LOGS_FILE",
    "AUDIT_WEBHOOK_URL",
    "AUDIT_SYSLOG_ADDRESS",
    "ENABLE_LOCAL_WEB_FETCH",
    "ENABLE_WEB_LOADER_SSL_VERIFICATION",
    "REQUIRE_MFA",
    "MFA_ENCRYPTION_KEY",
    "ENABLE_PASSKEY_LOGIN",
}
# Read by compose and run.sh only, to build REDIS_URL and DATABASE_URL.
COMPOSE_ONLY = {"REDIS_PASSWORD", "POSTGRES_PASSWORD"}


def _settings_variables() -> set[str]:
    # Every upper-case string literal of the config package: the names it reads.
    source = "".join(path.read_text() for path in CONFIG.glob("*.py"))
    return set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source))


def _env_example() -> set[str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def _dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def _compose() -> dict[str, dict[str, object]]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services: dict[str, dict[str, object]] = loaded["services"]
    return services


def test_dockerfile_runs_as_a_fixed_non_root_uid() -> None:
    users = [value for keyword, value in _dockerfile() if keyword == "USER"]
    assert users == ["10001:10001"]


def test_dockerfile_checks_health_on_the_health_route() -> None:
    checks = [value for keyword, value in _dockerfile() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/health" in checks[0]


def test_dockerfile_base_is_pinned_by_digest() -> None:
    args = [value for keyword, value in _dockerfile() if keyword == "ARG"]
    base = next(value for value in args if value.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base)


def test_dockerfile_starts_bastion_serve_and_opts_out_of_telemetry() -> None:
    instructions = _dockerfile()
    assert ("ENTRYPOINT", '["bastion", "serve"]') in instructions
    env = " ".join(value for keyword, value in instructions if keyword == "ENV")
    assert "SCARF_NO_ANALYTICS=true" in env
    assert "DO_NOT_TRACK=true" in env
    assert "WORKERS=" in env


def test_dockerfile_takes_no_secret_at_build_time() -> None:
    for keyword, value in _dockerfile():
        if keyword in {"ARG", "ENV"}:
            assert not re.search(r"SECRET|PASSWORD|API_KEYS", value), value


def test_dockerignore_keeps_env_data_and_venv_out() -> None:
    ignored = set((DEPLOY / ".dockerignore").read_text().splitlines())
    assert {"**/.env", "data/", ".venv/"} <= ignored


def test_no_image_is_pulled_by_latest_or_by_no_tag() -> None:
    for name, service in _compose().items():
        image = str(service.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        assert ":" in tag, name
        assert not tag.endswith(":latest"), name


def test_redis_and_postgres_are_not_published_and_only_nginx_is() -> None:
    services = _compose()
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    assert "--requirepass" in services["redis"]["command"]  # type: ignore[operator]


def test_every_service_has_a_health_check_that_others_wait_for() -> None:
    services = _compose()
    for name in ("nginx", "redis", "postgres"):
        assert "healthcheck" in services[name], name
    assert services["bastion-1"]["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert services["postgres"]["image"] == "postgres:15-bookworm"


def test_env_example_names_only_variables_the_settings_read() -> None:
    assert _env_example() - COMPOSE_ONLY <= _settings_variables()


def test_env_example_names_every_security_variable() -> None:
    assert SECURITY_VARIABLES <= _settings_variables()
    assert SECURITY_VARIABLES <= _env_example()


def test_systemd_unit_is_rated_ok_by_systemd_analyze() -> None:
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            str(DEPLOY / "systemd" / "bastion.service"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rating = re.search(
        r"Overall exposure level for bastion\.service: ([0-9.]+) (\w+)", result.stdout
    )
    assert rating is not None, result.stdout
    assert float(rating.group(1)) <= 2.0
    assert rating.group(2) in {"OK", "SAFE"}
