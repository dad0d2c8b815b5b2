"""Configuration checks: ``bastion check [--deploy]`` and the admin's security overview.

In the style of Django's system checks: each check is a small predicate over the
settings (and the files they name) that yields :class:`Message` objects with a stable
ID, a level, the problem in one line and a hint naming the variable and the fix.
``security`` holds the checks of what a request meets (tokens, cookies, headers, CORS,
proxies, keys, sign-up); ``deployment`` those of how Bastion is run (audit log, shared
state, database, files, outbound requests, upstreams). Checks marked ``deploy`` matter
only in production and run with ``--deploy``.
"""

from bastion.checks import deployment, security
from bastion.checks.registry import Level, Message, Target, review_running, run_checks

__all__ = [
    "Level",
    "Message",
    "Target",
    "deployment",
    "review_running",
    "run_checks",
    "security",
]
