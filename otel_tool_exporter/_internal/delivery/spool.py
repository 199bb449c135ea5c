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

__all__ = ["Spool", "SpoolRow", "reason"]

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
    created REAL NOT NULL,
    wait_left REAL,
    update_tool TEXT,
    update_log TEXT
);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    explicit TEXT,
    PRIMARY KEY (trace_id, span_id)
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
    wait_left: float | None = None  # seconds the child still had to wait when the process stopped
    update: tuple[str, str] | None = None  # (tool id, Log id) when the request completes a Log


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
        self.state = "on"  # or "failed: <reason>" while writes fail (the exporter goes on from memory)
        self._said: set[str] = set()
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
                "SELECT trace_id, span_id, body, ready, parent_span_id, waiting_on, version_id, environment, created,"
                " wait_left, update_tool, update_log FROM requests ORDER BY row"
            ).fetchall()
            logmap = other.execute("SELECT trace_id, span_id, log_id, created FROM logmap").fetchall()
            links = other.execute("SELECT trace_id, span_id, parent_span_id, explicit FROM links").fetchall()
            journal = other.execute("SELECT body FROM journal ORDER BY seq").fetchall()
        finally:
            other.close()
        db = self._db
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO requests(trace_id, span_id, body, ready, parent_span_id, waiting_on, version_id,"
            " environment, created, wait_left, update_tool, update_log) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.executemany("INSERT OR IGNORE INTO logmap(trace_id, span_id, log_id, created) VALUES (?,?,?,?)", logmap)
        db.executemany(
            "INSERT OR IGNORE INTO links(trace_id, span_id, parent_span_id, explicit) VALUES (?,?,?,?)", links
        )
        db.executemany("INSERT INTO journal(body) VALUES (?)", journal)
        db.execute("COMMIT")
        return len(rows)

    # ------------------------------------------------------------------ failures
    def _failed(self, exc: BaseException) -> None:
        """A write failed (disk full, I/O error, read-only, locked): say so once per reason, and
        let the caller go on from memory. The next commit that works sets the state back to on."""
        cause = reason(exc)
        self.state = f"failed: {cause}"
        if cause not in self._said and len(self._said) < 100:
            self._said.add(cause)
            logger.warning(
                "otel_tool_exporter: the spool in %s cannot be written (%s); going on from memory "
                "(Logs not yet on disk are lost if the process dies)",
                self.directory,
                cause,
            )

    def _write(self, sql: str, args: tuple[object, ...]) -> int | None:
        """One statement in this tick's transaction; None when it failed (already said)."""
        try:
            if not self._in_tx:
                self._db.execute("BEGIN")
                self._in_tx = True
            return int(self._db.execute(sql, args).lastrowid or 0)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return None

    # ------------------------------------------------------------------ writes (batched per tick)
    def commit(self) -> bool:
        """End this tick's transaction; False (already said) when it could not be committed,
        in which case none of its writes reached the disk."""
        if not self._in_tx:
            return True
        self._in_tx = False  # whatever happens next, the transaction is over
        try:
            self._db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")  # SQLite may have rolled back already
            return False
        if self.state != "on":
            self.state = "on"
            logger.warning("otel_tool_exporter: the spool in %s is written again", self.directory)
        return True

    @property
    def healthy(self) -> bool:
        return self.state == "on"

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
    ) -> int | None:
        """A Log request before anything else happens to it; its row, or None if not written."""
        return self._write(
            "INSERT INTO requests(trace_id, span_id, body, ready, parent_span_id, version_id, environment, created)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (trace_id, span_id, body, int(ready), parent_span_id, version_id, environment, time.time()),
        )

    def waiting(self, row: int, waiting_on: str, wait_left: float | None = None) -> None:
        """The request waits for ``waiting_on``'s Log, for ``wait_left`` more seconds."""
        self._write("UPDATE requests SET waiting_on = ?, wait_left = ? WHERE row = ?", (waiting_on, wait_left, row))

    def ready(self, row: int, body: bytes, update: tuple[str, str] | None = None) -> None:
        """The request in its final form; ``update`` = (tool id, Log id) for a completion."""
        tool_id, log_id = update if update is not None else (None, None)
        self._write(
            "UPDATE requests SET body = ?, ready = 1, waiting_on = NULL, update_tool = ?, update_log = ? WHERE row = ?",
            (body, tool_id, log_id, row),
        )

    def acknowledged(self, row: int, trace_id: str, span_id: str, log_id: str) -> None:
        self._write("DELETE FROM requests WHERE row = ?", (row,))
        self._write(
            "INSERT OR REPLACE INTO logmap(trace_id, span_id, log_id, created) VALUES (?,?,?,?)",
            (trace_id, span_id, log_id, time.time()),
        )

    def discard(self, row: int) -> None:
        self._write("DELETE FROM requests WHERE row = ?", (row,))

    def journal(self, bodies: list[bytes]) -> list[int] | None:
        """Spans accepted and not yet built, written ahead (in this tick's transaction); their
        rows, in order, or None if the write failed (said once)."""
        if not bodies:
            return []
        try:
            if not self._in_tx:
                self._db.execute("BEGIN")
                self._in_tx = True
            cursor = self._db.executemany("INSERT INTO journal(body) VALUES (?)", [(b,) for b in bodies])
            last = int(self._db.execute("SELECT last_insert_rowid()").fetchone()[0])
            del cursor
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return None
        return list(range(last - len(bodies) + 1, last + 1))  # one writer: the rows are consecutive

    def unjournal(self, rows: list[int]) -> None:
        """Spans whose Logs (or links) are written: their journal rows go."""
        for row in rows:
            self._write("DELETE FROM journal WHERE seq = ?", (row,))

    def journaled(self) -> list[tuple[int, bytes]]:
        """What an earlier run accepted and never built, in the order it came."""
        try:
            return [(int(r[0]), bytes(r[1])) for r in self._db.execute("SELECT seq, body FROM journal ORDER BY seq")]
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return []

    def link(self, trace_id: str, span_id: str, parent_span_id: str | None, explicit: str | None) -> None:
        """An ordinary span's place in its trace: what lets children nest across a restart."""
        self._write(
            "INSERT OR REPLACE INTO links(trace_id, span_id, parent_span_id, explicit) VALUES (?,?,?,?)",
            (trace_id, span_id, parent_span_id, explicit),
        )

    def forget_traces(self, trace_ids: list[str]) -> None:
        """Traces ordering forgot (quiet past their TTL, or over the memory cap) leave the disk too."""
        for trace_id in trace_ids:
            self._write("DELETE FROM links WHERE trace_id = ?", (trace_id,))

    # ------------------------------------------------------------------ reads
    def rows(self, *, rows: list[int] | None = None) -> Iterator[SpoolRow]:
        query = (
            "SELECT row, trace_id, span_id, body, ready, parent_span_id, waiting_on, version_id, environment,"
            " wait_left, update_tool, update_log FROM requests"
        )
        if rows is not None:
            if not rows:
                return
            query += f" WHERE row IN ({','.join('?' * len(rows))})"
        try:
            found = self._db.execute(query + " ORDER BY row", rows or ()).fetchall()
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return
        for r in found:
            update = (r[10], r[11]) if r[10] is not None and r[11] is not None else None
            yield SpoolRow(r[0], r[1], r[2], bytes(r[3]), bool(r[4]), r[5], r[6], r[7], r[8], r[9], update)

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

    def links_for(self, trace_ids: set[str]) -> list[tuple[str, str, str | None, str | None]]:
        out: list[tuple[str, str, str | None, str | None]] = []
        ids = sorted(trace_ids)
        try:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                out += self._db.execute(
                    "SELECT trace_id, span_id, parent_span_id, explicit FROM links"
                    f" WHERE trace_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
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
    columns = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
    for column, kind in (("wait_left", "REAL"), ("update_tool", "TEXT"), ("update_log", "TEXT")):
        if column not in columns:  # a spool written by an earlier release
            db.execute(f"ALTER TABLE requests ADD COLUMN {column} {kind}")
    return db


def reason(exc: BaseException) -> str:
    """A short cause: 'disk full', 'read-only', 'I/O error', 'locked', else the error's text."""
    text = str(exc).lower()
    for needle, reason in (
        ("full", "disk full"),
        ("readonly", "read-only"),
        ("read-only", "read-only"),
        ("disk i/o", "I/O error"),
        ("locked", "locked"),
        ("busy", "locked"),
    ):
        if needle in text:
            return reason
    return f"{type(exc).__name__}: {exc}"[:200]
