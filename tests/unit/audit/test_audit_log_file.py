"""The audit log file: several processes, rotation, retention, a full disk, the hash chain."""

from __future__ import annotations

import errno
import gzip
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from bastion.audit.chain import seal, verify
from bastion.audit.logfile import LogFile, rotated_files
from bastion.audit.writer import AuditWriter
from bastion.cli import main as cli

ROOT = Path(__file__).resolve().parents[3]

# One worker process: 10,000 entries through its own writer onto the shared log.
_WORKER = """
import sys, time
from pathlib import Path
from bastion.audit.logfile import LogFile
from bastion.audit.writer import AuditWriter

path, name = Path(sys.argv[1]), sys.argv[2]
writer = AuditWriter(
    LogFile(path, rotation_size=64 * 1024, retention=10_000), capacity=20_000, batch_size=64
)
for number in range(10_000):
    writer.submit({"time": time.time(), "type": "test", "worker": name, "n": number})
assert writer.flush(120)
writer.close()
"""


def _all_lines(path: Path) -> list[bytes]:
    lines: list[bytes] = []
    for file in [*rotated_files(path), path]:
        opener: Any = gzip.open if file.name.endswith(".gz") else open
        with opener(file, "rb") as handle:
            lines.extend(handle.read().splitlines())
    return lines


def _entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _all_lines(path)]


def _writer(path: Path, **options: Any) -> AuditWriter:
    log_file = LogFile(
        path,
        rotation_size=options.pop("rotation_size", 1024 * 1024),
        retention=options.pop("retention", 10),
        write=options.pop("write", os.write),
    )
    return AuditWriter(log_file, **options)


def test_two_processes_rotating_every_64kib_keep_every_entry_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), name],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        for name in ("a", "b")
    ]
    assert [worker.wait(timeout=300) for worker in workers] == [0, 0]

    entries = _entries(path)  # every line parses, or json.loads raises
    assert len(entries) == 20_000
    assert {(e["worker"], e["n"]) for e in entries} == {
        (worker, n) for worker in ("a", "b") for n in range(10_000)
    }
    rotated = rotated_files(path)
    assert len(rotated) > 10 and all(file.name.endswith(".gz") for file in rotated)
    assert max(len(gzip.decompress(file.read_bytes())) for file in rotated) <= 64 * 1024
    assert path.stat().st_size <= 64 * 1024
    # One chain through both processes and every rotation.
    assert verify([*rotated, path]) == (20_000, None)


def test_a_process_sees_a_rotation_that_left_a_file_of_the_same_inode_and_size(
    tmp_path: Path,
) -> None:
    # Entries of one length, two entries a file: B's rotation frees the inode A last
    # wrote to, B's new file takes it, and B's one entry leaves it at A's size.
    path = tmp_path / "audit.log"
    line_size = len(seal({"n": 0}, "0" * 64)[0])
    a, b = (LogFile(path, rotation_size=2 * line_size, retention=100) for _ in "ab")
    a.append([{"n": 0}])
    b.append([{"n": 1}, {"n": 2}])
    a.append([{"n": 3}])

    assert verify([*rotated_files(path), path]) == (4, None)


def test_retention_keeps_the_newest_rotated_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = _writer(path, rotation_size=2048, retention=3)
    for number in range(200):
        writer.submit({"time": 0.0, "type": "test", "n": number})
    writer.close()
    rotated = rotated_files(path)
    assert len(rotated) == 3
    # Only the server's user reads the log, rotated files included.
    assert {stat.S_IMODE(file.stat().st_mode) for file in [*rotated, path]} == {0o600}
    numbers = [entry["n"] for entry in _entries(path)]
    assert numbers == list(range(numbers[0], 200))  # the oldest went first, nothing else
    # The retained files still verify as one chain (its start was rotated out).
    assert verify([*rotated, path]) == (len(numbers), None)


def test_entries_are_json_lines_with_utc_time_and_chained_hashes(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = _writer(path)
    writer.submit({"time": 86400.5, "type": "test"})
    writer.submit({"time": 86401.0, "type": "test"})
    writer.close()
    first, second = _entries(path)
    assert first["time"] == "1970-01-02T00:00:00.500000+00:00"
    assert first["prev"] == "0" * 64
    assert second["prev"] == first["hash"]


def test_a_full_disk_is_reported_once_and_writing_resumes(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    full = threading.Event()
    full.set()
    failures: list[tuple[str, dict[str, Any]]] = []
    reported = threading.Event()

    def write(fd: int, data: memoryview) -> int:
        if full.is_set():
            os.write(fd, data[:10])  # a partial write must not stay behind
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)

    def report(type_: str, details: dict[str, Any]) -> None:
        failures.append((type_, details))
        writer.submit({"time": 0.0, "type": type_, "details": details}, security=True)
        reported.set()

    writer = _writer(path, write=write, retry_interval=0.001, report=report, capacity=5)
    writer.submit({"time": 0.0, "type": "first"})
    assert reported.wait(30)
    for number in range(20):  # meanwhile: requests beyond the capacity are dropped
        writer.submit({"time": 0.0, "type": "request", "n": number})
    writer.submit({"time": 0.0, "type": "auth.signin"}, security=True)
    full.clear()
    assert writer.flush(30)
    writer.close()

    types = [entry["type"] for entry in _entries(path)]
    assert types[0] == "first"
    assert types.count("audit.write_failed") == 1
    assert "auth.signin" in types  # a security event is kept while requests are dropped
    assert types.count("request") < 20
    assert [t for t, _ in failures] == ["audit.write_failed", "audit.dropped"]
    assert failures[0][1]["error"] == "No space left on device"
    assert failures[1][1]["requests"] == 20 - types.count("request")
    assert verify([path]) == (len(types), None)


def test_request_entries_are_dropped_first_when_the_writer_falls_behind(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = _writer(path, capacity=2, security_reserve=1)
    writer._thread = threading.current_thread()  # as if the writer thread were stuck
    for number in range(4):
        writer.submit({"time": 0.0, "type": "request", "n": number})
    for _ in range(3):
        writer.submit({"time": 0.0, "type": "event"}, security=True)
    assert [r["type"] for r in writer._queue] == ["request", "request", "event"]
    assert (writer._dropped_requests, writer._dropped_security) == (2, 2)


def _write_chain(path: Path, count: int) -> None:
    writer = _writer(path)
    for number in range(count):
        writer.submit({"time": 0.0, "type": "test", "n": number})
    writer.close()


def _rewrite(path: Path, change: Any) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    change(lines)
    path.write_bytes(b"".join(lines))


def test_verify_accepts_an_intact_log(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "audit.log"
    _write_chain(path, 5)
    assert cli(["audit", "verify", str(path)]) == 0
    assert capsys.readouterr().out == "audit log intact: 5 entries in 1 file(s)\n"


def test_verify_names_an_edited_line(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "audit.log"
    _write_chain(path, 5)
    _rewrite(path, lambda lines: lines.__setitem__(2, lines[2].replace(b'"n":2', b'"n":7')))
    assert cli(["audit", "verify", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"audit log broken at {path}:3: the entry was altered (after 2 intact entries)\n"
    )


def test_verify_names_a_deleted_line(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "audit.log"
    _write_chain(path, 5)
    _rewrite(path, lambda lines: lines.__delitem__(2))
    assert cli(["audit", "verify", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"audit log broken at {path}:3: an entry before this one was removed "
        "(after 2 intact entries)\n"
    )


def test_verify_names_an_inserted_line_even_with_a_valid_hash(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "audit.log"
    _write_chain(path, 5)
    # A forger who knows the format: a well-formed entry chained to line 2.
    entry = json.loads(path.read_bytes().splitlines()[1])
    forged, _ = seal({"time": entry["time"], "type": "test", "n": 99}, entry["hash"])
    _rewrite(path, lambda lines: lines.insert(2, forged))
    assert cli(["audit", "verify", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"audit log broken at {path}:3: the entry was inserted (after 3 intact entries)\n"
    )


def test_verify_follows_the_chain_across_rotated_files(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "audit.log"
    writer = _writer(path, rotation_size=1024)
    for number in range(40):
        writer.submit({"time": 0.0, "type": "test", "n": number})
    writer.close()
    files = [str(file) for file in tmp_path.iterdir()]  # any order, the lock file too
    assert cli(["audit", "verify", *files]) == 0
    assert capsys.readouterr().out.startswith(
        f"audit log intact: 40 entries in {len(rotated_files(path)) + 1} file(s)"
    )
    oldest = rotated_files(path)[1]
    with gzip.open(oldest, "rb") as handle:
        lines = handle.read().splitlines(keepends=True)
    with gzip.open(oldest, "wb") as handle:
        handle.write(b"".join(lines[1:]))
    assert cli(["audit", "verify", *files]) == 1
    assert f"{oldest}:1: an entry before this one was removed" in capsys.readouterr().out
