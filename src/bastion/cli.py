"""``bastion serve | check [--deploy] | create-admin | audit verify PATH… | audit deps |
--version``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bastion import __version__
from bastion.config import Settings, SettingsError, load_settings

EXIT_CONFIG = 2


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is out of range, use {low} to {high}")
        return number

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bastion", description=__doc__)
    parser.add_argument("--version", action="version", version=f"bastion {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the web server")
    serve.add_argument("--host", help="address to listen on (default HOST or 127.0.0.1)")
    serve.add_argument(
        "--port", type=_bounded(1, 65535), help="port to listen on (default PORT or 8080)"
    )
    serve.add_argument(
        "--workers", type=_bounded(1, 64), help="worker processes (default WORKERS or 1)"
    )

    check = commands.add_parser("check", help="review the configuration for security problems")
    check.add_argument(
        "--deploy", action="store_true", help="add the checks that matter in production"
    )
    check.add_argument("--json", action="store_true", help="print the messages as JSON")
    check.add_argument(
        "--fail-level",
        choices=("warning", "error"),
        default="error",
        help="exit 1 when a message of this level or above is found (default error)",
    )

    scan = commands.add_parser("scan", help="grade a running deployment from outside")
    scan.add_argument("url", help="the https:// address people use")
    scan.add_argument(
        "--http-url", help="its plain-HTTP address, to test the redirect (default: port 80)"
    )
    scan.add_argument("--ca-file", type=Path, help="trust this CA bundle instead of the system's")
    scan.add_argument("--json", action="store_true", help="print the report as JSON")
    scan.add_argument(
        "--min-score",
        type=_bounded(0, 100),
        default=0,
        help="exit 1 when the score is below this (default 0: never)",
    )

    admin = commands.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Admin")
    source = admin.add_mutually_exclusive_group()
    source.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    source.add_argument(
        "--password-file",
        type=Path,
        metavar="PATH",
        help="read the password from the first line of PATH (never put it on the command line)",
    )

    audit = commands.add_parser("audit", help="work with the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain of audit log files (the current one and rotated ones)",
    )
    verify.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    deps = audit_commands.add_parser(
        "deps", help="check the installed packages against known vulnerabilities (pip-audit)"
    )
    deps.add_argument(
        "--requirements",
        type=Path,
        metavar="FILE",
        help="audit the pins of FILE instead of the installed packages",
    )
    return parser


def _verify_audit(paths: Sequence[Path]) -> int:
    """Exit 0 when the chain holds, 1 naming the first altered, removed or inserted entry."""
    from bastion.audit.chain import chain_order, verify

    paths = chain_order(paths)
    try:
        count, broken = verify(paths)
    except OSError as exc:
        print(f"bastion: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    if broken is not None:
        print(f"audit log broken at {broken} (after {count} intact entries)")
        return 1
    print(f"audit log intact: {count} entries in {len(paths)} file(s)")
    return 0


def _audit_dependencies(requirements: Path | None) -> int:
    """Exit 0 when every package was looked up and none is known vulnerable, 1 when one
    is, 2 when the audit could not look them all up (never a silent pass)."""
    from bastion.checks.dependencies import AuditUnavailable, audit_dependencies

    try:
        audit = audit_dependencies(requirements)
    except AuditUnavailable as exc:
        print(f"bastion audit deps: {exc}", file=sys.stderr)
        return 2
    for vulnerability in audit.vulnerabilities:
        print(vulnerability)
    total = audit.audited + len(audit.skipped)
    if audit.vulnerabilities:
        packages = len({vulnerability.package for vulnerability in audit.vulnerabilities})
        print(
            f"bastion audit deps: {len(audit.vulnerabilities)} known vulnerabilities in "
            f"{packages} of {total} packages"
        )
    if not audit.complete:
        first = f" (first: {audit.skipped[0][0]}: {audit.skipped[0][1]})" if audit.skipped else ""
        print(
            f"bastion audit deps: {len(audit.skipped)} of {total} packages could not be looked "
            f"up in the vulnerability database{first}; this is not a pass",
            file=sys.stderr,
        )
        return 2
    if audit.vulnerabilities:
        return 1
    print(f"bastion audit deps: no known vulnerabilities in {total} packages")
    return 0


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.server.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def shared_state_notices(settings: Settings) -> list[tuple[int, str]]:
    """What the start says about where limits, revocations and lockouts are kept."""
    workers = settings.server.workers
    if settings.redis.redis_url is not None:
        return [
            (
                logging.INFO,
                f"REDIS_URL is set: rate limits, revocations and lockouts are global, shared "
                f"by the {workers} worker(s) and every instance on the same Redis "
                "(each falls back to local state while Redis is unreachable).",
            )
        ]
    notices = []
    if workers > 1:
        notices.append(
            (
                logging.WARNING,
                f"{workers} workers without REDIS_URL: rate limits are per process, each "
                f"worker counting on its own (a limit of N lets up to {workers}*N through). "
                "Set REDIS_URL to make them global.",
            )
        )
    if not settings.sees_every_write:
        database = "PostgreSQL" if settings.server.database_url.startswith("postgres") else "SQLite"
        notices.append(
            (
                logging.WARNING,
                f"{workers} worker(s) on {database} without REDIS_URL: revocations are "
                "checked in the database on every request so that every worker and "
                "instance agrees.",
            )
        )
    return notices


def _serve(settings: Settings) -> int:
    import uvicorn

    from bastion.app import prepare
    from bastion.gateway.upstreams import NO_UPSTREAM, upstreams_from
    from bastion.services import Services

    log = logging.getLogger("bastion")
    log.info("data: %s (database, audit log, uploads)", settings.server.data_dir.resolve())
    for notice in settings.notices:
        log.info("%s", notice)
    for warning in settings.warnings:
        log.warning("%s", warning)
    if not upstreams_from(settings):
        log.warning("%s", NO_UPSTREAM)
    for level, notice in shared_state_notices(settings):
        log.log(level, "%s", notice)
    # Migrate and create the headless admin once, before any worker starts.
    services = Services.build(settings)

    async def setup() -> None:
        try:
            await prepare(services)
        finally:
            await services.close()

    asyncio.run(setup())
    # Workers re-read the environment; the command-line values must reach them too.
    os.environ.update(
        {
            "HOST": settings.server.host,
            "PORT": str(settings.server.port),
            "WORKERS": str(settings.server.workers),
        }
    )
    uvicorn.run(
        "bastion.app:app_from_env",
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        # Bastion decides which proxies to believe (FORWARDED_ALLOW_IPS); uvicorn must not.
        proxy_headers=False,
        server_header=False,
        # uvloop and httptools when installed (they are in the requirements): measured by
        # bench/event_loops.py, they serve 1.8x the requests at 0.55x the CPU each.
        loop="auto",
        http="auto",
        log_level=settings.server.log_level,
    )
    return 0


def _check(settings: Settings, *, deploy: bool, as_json: bool, fail_level: str) -> int:
    """Exit 1 when a message at ``fail_level`` or above is found, 0 otherwise."""
    from bastion.checks import Level, Target, run_checks

    target = Target(settings, accounts_exist=_accounts_exist(settings))
    messages = run_checks(target, deploy=deploy)
    failed = any(message.level >= Level[fail_level.upper()] for message in messages)
    if as_json:
        report = {
            "messages": [message.as_dict() for message in messages],
            "deploy": deploy,
            "fail_level": fail_level,
            "failed": failed,
        }
        print(json.dumps(report, indent=2))
    else:
        for message in messages:
            print(message)
        errors = sum(message.level is Level.ERROR for message in messages)
        print(
            f"bastion check{' --deploy' if deploy else ''}: "
            f"{errors} error(s), {len(messages) - errors} warning(s)"
        )
    return 1 if failed else 0


def _scan(
    url: str, http_url: str | None, ca_file: Path | None, as_json: bool, min_score: int
) -> int:
    from bastion.checks.scan import ScanFailed, scan

    if ca_file is not None and not ca_file.is_file():
        print(f"bastion scan: {ca_file} is not a file; give the CA bundle's path", file=sys.stderr)
        return EXIT_CONFIG
    try:
        report = asyncio.run(
            scan(url, http_url=http_url, ca_file=None if ca_file is None else str(ca_file))
        )
    except ScanFailed as failed:
        print(f"bastion scan: {failed}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 1 if report.score < min_score else 0


def _accounts_exist(settings: Settings) -> bool | None:
    """Whether the database holds an account; ``None`` when no check needs to know."""
    if settings.auth.admin_password is None:
        return None
    from bastion.store.db import sqlite_file

    database = sqlite_file(settings.server.database_url)
    if database is not None and not database.exists():
        return False  # nothing to read, and nothing to create
    return asyncio.run(_count_accounts(settings.server.database_url))


async def _count_accounts(database_url: str) -> bool | None:
    from sqlalchemy.exc import SQLAlchemyError

    from bastion.store.db import Database
    from bastion.store.users import Users

    database = Database(database_url)
    try:
        return await Users(database, cache=False).count() > 0
    except (SQLAlchemyError, OSError):
        return None  # not migrated yet, or unreachable: the check that needs it passes
    finally:
        await database.dispose()


class PasswordUnavailable(Exception):
    """No password can be read the way the command line asked; the message says why."""


def _read_password(from_stdin: bool, path: Path | None) -> str:
    if path is not None:
        try:
            password = path.read_text(encoding="utf-8").partition("\n")[0].rstrip("\r")
        except (OSError, UnicodeDecodeError) as exc:
            raise PasswordUnavailable(f"cannot read the password file {path}: {exc}") from None
    elif from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        # getpass would fall back to reading a pipe with a warning, or die on EOF.
        raise PasswordUnavailable(
            "no terminal to ask for the password; use --password-file PATH or --password-stdin"
        )
    else:
        try:
            password = getpass.getpass("Password: ")
        except EOFError:
            raise PasswordUnavailable("no password was entered") from None
    if not password:
        raise PasswordUnavailable("the password is empty")
    return password


def _create_admin(
    settings: Settings, email: str, name: str, from_stdin: bool, password_file: Path | None
) -> int:
    from bastion.app import prepare
    from bastion.services import Services

    try:
        password = _read_password(from_stdin, password_file)
    except PasswordUnavailable as exc:
        print(f"bastion: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    services = Services.build(settings)

    async def run() -> None:
        try:
            await prepare(services)
            await services.create_admin(email, name, password)
        finally:
            await services.close()

    asyncio.run(run())
    print(f"created administrator {email.lower()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from bastion.errors import BastionError

    args = _parser().parse_args(argv)
    if args.command == "scan":  # of another deployment: this one's settings do not matter
        return _scan(args.url, args.http_url, args.ca_file, args.json, args.min_score)
    if args.command == "audit":
        # Needs no settings: the files may come from another machine.
        if args.audit_command == "deps":
            return _audit_dependencies(args.requirements)
        return _verify_audit(args.paths)
    try:
        settings = load_settings(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
        )
    except SettingsError as exc:
        print(f"bastion: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(settings)
    try:
        if args.command == "serve":
            return _serve(settings)
        if args.command == "check":
            return _check(
                settings, deploy=args.deploy, as_json=args.json, fail_level=args.fail_level
            )
        return _create_admin(
            settings, args.email, args.name, args.password_stdin, args.password_file
        )
    except BastionError as exc:
        print(f"bastion: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
