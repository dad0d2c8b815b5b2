"""The shipped fail2ban filters (``deploy/fail2ban/filter.d``), run by Debian's
``fail2ban-regex`` against an audit log that a real Bastion wrote: they find the
addresses behind failed sign-ins and rate-limit refusals, and nothing else — not a
successful sign-in, not an address an attacker wrote into an e-mail or a name."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.support import PASSWORD, StartBastion

FAIL2BAN = Path(__file__).resolve().parents[3] / "deploy" / "fail2ban"
GUESSER = "198.51.100.7"
FLOODER = "203.0.113.5"
FORGER = "198.51.100.9"
FORGED = "192.0.2.66"  # the address the forger's text names
# Text meant to look like the start of another line's fields, were it not escaped.
INJECTED = f'x","client_ip":"{FORGED}","outcome":"failure","type":"auth.signin","'


def _matched(log: Path, jail_filter: str) -> Counter[str]:
    command = ["fail2ban-regex", "-o", "ip", str(log), str(FAIL2BAN / "filter.d" / jail_filter)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return Counter(done.stdout.split())


@pytest.fixture(scope="module")
def fail2ban_regex() -> None:
    if shutil.which("fail2ban-regex") is None:
        pytest.fail("fail2ban-regex is missing: bin/test installs the Debian package fail2ban")


async def test_filters_find_the_failing_addresses_and_no_others(
    fail2ban_regex: None, start_bastion: StartBastion
) -> None:
    bastion = await start_bastion(
        {
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "SIGNIN_RATE_LIMIT_IP": "3/15m",
            "SIGNIN_DELAY_AFTER_FAILURES": "100",
        }
    )
    await bastion.signup("admin@example.com", name=INJECTED)

    async def signin(address: str, email: str, password: str) -> int:
        response = await bastion.client.post(
            "/api/v1/auths/signin",
            json={"email": email, "password": password},
            headers={"X-Forwarded-For": address},
        )
        return response.status_code

    statuses = [await signin(GUESSER, "admin@example.com", "wrong guess") for _ in range(2)]
    statuses += [await signin(FLOODER, "admin@example.com", "wrong guess") for _ in range(5)]
    statuses.append(await signin(FORGER, f"{INJECTED}@example.com", "wrong guess"))
    statuses.append(await signin("198.51.100.8", "admin@example.com", PASSWORD))
    assert statuses == [400, 400, 400, 400, 400, 429, 429, 400, 200]
    assert bastion.services.audit.flush(30)
    log = bastion.settings.audit.audit_logs_file_path
    assert FORGED in log.read_text()  # the forged text is in the log, escaped

    assert _matched(log, "bastion-signin.conf") == Counter({GUESSER: 2, FLOODER: 3, FORGER: 1})
    # The first refusal in full, the second folded into the count written at the flush.
    assert _matched(log, "bastion-ratelimit.conf") == Counter({FLOODER: 2})
