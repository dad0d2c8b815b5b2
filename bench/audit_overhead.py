"""What the audit log costs: authenticated ``GET /api/v1/auths/`` at each audit level.

Three Bastion instances run under uvicorn (one worker each, the embedded default), loaded
by wrk in turn, alternately, three times; the best run of each counts (the machine is
shared: the spread between ``none`` and ``metadata_default``, which do the same work for
a GET, shows the noise of the run):

- ``NONE``: no request entries (security events only);
- ``METADATA`` with ``ENABLE_AUDIT_GET_REQUESTS=true``: every request is written, the
  measured case (GETs are not audited by default, which would make it free);
- ``METADATA`` as shipped (GETs not audited), for reference.

The target: auditing every request at ``METADATA`` costs at most 10 % of the ``NONE`` rate.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

from throughput import (
    PATH,
    bastion_environment,
    best_of_rounds,
    check_answers_200,
    sign_up,
    uvicorn_server,
)

TARGET_RATIO = 0.9
ROUNDS = 3
CONFIGURATIONS = {
    "none": {"AUDIT_LOG_LEVEL": "NONE", "ENABLE_AUDIT_GET_REQUESTS": "true"},
    "metadata": {"AUDIT_LOG_LEVEL": "METADATA", "ENABLE_AUDIT_GET_REQUESTS": "true"},
    "metadata_default": {"AUDIT_LOG_LEVEL": "METADATA"},
}


def main() -> dict[str, float]:
    log_sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as root:
        servers: dict[str, tuple[str, tuple[str, ...], Path]] = {}
        with ExitStack() as stack:
            for name, extra in CONFIGURATIONS.items():
                data_dir = Path(root) / name
                env = {**bastion_environment(data_dir), **extra}
                base = stack.enter_context(
                    uvicorn_server("bastion.app:app_from_env", factory=True, env=env)
                )
                cookie = f"token={sign_up(base)}"
                check_answers_200(base + PATH, {"Cookie": cookie})
                servers[name] = (base + PATH, (f"Cookie: {cookie}",), data_dir)
            best = best_of_rounds(
                {name: (url, headers) for name, (url, headers, _) in servers.items()}, ROUNDS
            )
        for name, (_, _, data_dir) in servers.items():
            log_sizes[name] = sum(
                file.stat().st_size for file in data_dir.glob("audit.log*") if file.is_file()
            )

    ratio = best["metadata"].requests_per_s / best["none"].requests_per_s
    for name, result in best.items():
        print(
            f"{name}: {result.requests_per_s:.0f} req/s (latency avg "
            f"{result.latency_avg_ms:.2f} ms, p99 {result.latency_p99_ms:.2f} ms; "
            f"audit files {log_sizes[name] / 1e6:.1f} MB)"
        )
    print(f"ratio metadata/none: {ratio:.3f} (target >= {TARGET_RATIO})")
    return {
        "none_req_per_s": best["none"].requests_per_s,
        "metadata_req_per_s": best["metadata"].requests_per_s,
        "metadata_default_req_per_s": best["metadata_default"].requests_per_s,
        "metadata_p99_ms": best["metadata"].latency_p99_ms,
        "ratio": ratio,
    }


if __name__ == "__main__":
    main()
