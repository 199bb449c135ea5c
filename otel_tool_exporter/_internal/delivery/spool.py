"""Durable spool: SQLite in WAL mode holding every Log request until the server
acknowledged it, and the span → Log-id map, so a crash, a restart or a long outage loses nothing.

One database file per live process (``spool-<owner>.db`` beside a ``.lock`` file it holds with
``flock``), so two processes pointed at one directory never write the same file. On start, a
process adopts the files whose owner is gone (their lock is free): it moves their rows into its
own database and replays them.

Every method runs on the delivery thread; statements are grouped into one transaction per event
loop tick (``commit``), which the pipeline calls before any send of that tick starts, so a request
is on disk before it is on the wire.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool directory
    fcntl = None  # type: ignore[assignment]

__all__ = ["Spool", "SpoolRow"]

logger = logging.getLogger("otel_tool_exporter")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    row INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    body BLOB NOT NULL,
    ready INTEGER NOT NULL DEFAULT 0,
    parent_span_id TEXT,
    waiting_on TEXT,
    version_id TEXT,
    environment TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS logmap (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    log_id TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
"""


@dataclass(slots=True, frozen=True)
class SpoolRow:
    row: int
    trace_id: str
    span_id: str
    body: bytes
    ready: bool
    parent_span_id: str | None
    waiting_on: str | None
    version_id: str | None
    environment: str | None


class Spool:
    def __init__(self, directory: str | os.PathLike[str], *, logmap_ttl: float = 7 * 24 * 3600) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)  # it holds tool inputs and outputs
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = self.directory / f"spool-{self.owner}.db"
        self._lock_file = open(_private(self.directory / f"spool-{self.owner}.lock"), "w")
        if fcntl is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._db = _connect(self.path)
        self._in_tx = False
        self.logmap_ttl = logmap_ttl
        self.adopted = self._adopt_orphans()
        self._db.execute("DELETE FROM logmap WHERE created < ?", (time.time() - logmap_ttl,))

    # ------------------------------------------------------------------ adoption
    def _adopt_orphans(self) -> int:
        """Move rows of spool files whose process is gone into ours; return how many requests."""
        moved = 0
        for lock_path in sorted(self.directory.glob("spool-*.lock")):
            owner = lock_path.stem[len("spool-") :]
            if owner == self.owner:
                continue
            with open(lock_path, "w") as handle:
                if fcntl is not None:
                    try:
                        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        continue  # its owner is alive
                db_path = self.directory / f"spool-{owner}.db"
                if db_path.exists():
                    try:
                        moved += self._absorb(db_path)
                    except sqlite3.DatabaseError as exc:
                        logger.warning("spool file %s unreadable (%s): left in place", db_path.name, exc)
                        continue
                for suffix in (".db", ".db-wal", ".db-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        (self.directory / f"spool-{owner}{suffix}").unlink()
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
        return moved

    def _absorb(self, db_path: Path) -> int:
        other = _connect(db_path)
        try:
            rows = other.execute(
                "SELECT trace_id, span_id, body, ready, parent_span_id, waiting_on, version_id, environment, created"
                " FROM requests ORDER BY row"
            ).fetchall()
            logmap = other.execute("SELECT trace_id, span_id, log_id, created FROM logmap").fetchall()
        finally:
            other.close()
        db = self._db
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO requests(trace_id, span_id, body, ready, parent_span_id, waiting_on, version_id,"
            " environment, created) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.executemany("INSERT OR IGNORE INTO logmap(trace_id, span_id, log_id, created) VALUES (?,?,?,?)", logmap)
        db.execute("COMMIT")
        return len(rows)

    # ------------------------------------------------------------------ writes (batched per tick)
    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    @property
    def dirty(self) -> bool:
        return self._in_tx

    def add(
        self,
        trace_id: str,
        span_id: str,
        body: bytes,
        *,
        parent_span_id: str | None,
        version_id: str | None,
        environment: str | None,
        ready: bool = False,
    ) -> int:
        self._begin()
        cur = self._db.execute(
            "INSERT INTO requests(trace_id, span_id, body, ready, parent_span_id, version_id, environment, created)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (trace_id, span_id, body, int(ready), parent_span_id, version_id, environment, time.time()),
        )
        return int(cur.lastrowid or 0)

    def waiting(self, row: int, waiting_on: str) -> None:
        self._begin()
        self._db.execute("UPDATE requests SET waiting_on = ? WHERE row = ?", (waiting_on, row))

    def ready(self, row: int, body: bytes) -> None:
        self._begin()
        self._db.execute("UPDATE requests SET body = ?, ready = 1, waiting_on = NULL WHERE row = ?", (body, row))

    def acknowledged(self, row: int, trace_id: str, span_id: str, log_id: str) -> None:
        self._begin()
        self._db.execute("DELETE FROM requests WHERE row = ?", (row,))
        self._db.execute(
            "INSERT OR REPLACE INTO logmap(trace_id, span_id, log_id, created) VALUES (?,?,?,?)",
            (trace_id, span_id, log_id, time.time()),
        )

    def discard(self, row: int) -> None:
        self._begin()
        self._db.execute("DELETE FROM requests WHERE row = ?", (row,))

    # ------------------------------------------------------------------ reads
    def rows(self, *, rows: list[int] | None = None) -> Iterator[SpoolRow]:
        query = (
            "SELECT row, trace_id, span_id, body, ready, parent_span_id, waiting_on, version_id, environment"
            " FROM requests"
        )
        if rows is not None:
            if not rows:
                return
            query += f" WHERE row IN ({','.join('?' * len(rows))})"
        for r in self._db.execute(query + " ORDER BY row", rows or ()).fetchall():
            yield SpoolRow(r[0], r[1], r[2], bytes(r[3]), bool(r[4]), r[5], r[6], r[7], r[8])

    def body(self, row: int) -> bytes | None:
        found = self._db.execute("SELECT body FROM requests WHERE row = ?", (row,)).fetchone()
        return bytes(found[0]) if found else None

    def log_ids(self, trace_ids: set[str]) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        ids = sorted(trace_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            out += self._db.execute(
                f"SELECT trace_id, span_id, log_id FROM logmap WHERE trace_id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
        return out

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.commit()
            self._db.close()
        self._lock_file.close()


def _private(path: Path) -> Path:
    """``path``, created 0600 if it does not exist yet (SQLite gives its -wal and -shm files the
    database file's mode)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    return path


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(_private(path)), isolation_level=None, check_same_thread=False, timeout=5.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    return db
