"""SQLite storage of the stub's Logs and Tool versions."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from typing import Any

__all__ = ["LogStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    tool_id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    path TEXT NOT NULL,
    trace_parent_id TEXT,
    trace_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_trace ON logs(trace_id);
CREATE INDEX IF NOT EXISTS logs_parent ON logs(trace_parent_id);
CREATE TABLE IF NOT EXISTS tool_versions (
    version_id TEXT PRIMARY KEY,
    tool_id TEXT NOT NULL,
    path TEXT NOT NULL,
    kernel TEXT NOT NULL
);
"""


class LogStore:
    """One connection, used from the server's loop thread (and guarded for test readers)."""

    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def tool_for_path(self, path: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT tool_id FROM tool_versions WHERE path = ? LIMIT 1", (path,)).fetchone()
        return row[0] if row else None

    def path_for_tool(self, tool_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT path FROM tool_versions WHERE tool_id = ? LIMIT 1", (tool_id,)).fetchone()
        return row[0] if row else None

    def version(self, version_id: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT tool_id, path FROM tool_versions WHERE version_id = ?", (version_id,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def latest_version(self, tool_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT version_id FROM tool_versions WHERE tool_id = ? ORDER BY rowid DESC LIMIT 1", (tool_id,)
            ).fetchone()
        return row[0] if row else None

    def upsert_version(self, version_id: str, tool_id: str, path: str, kernel: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO tool_versions(version_id, tool_id, path, kernel) VALUES (?,?,?,?)",
                (version_id, tool_id, path, kernel),
            )

    def update(self, log_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Complete a stored Log with ``changes`` (Update Log); returns the Log as it now is."""
        with self._lock:
            row = self._db.execute("SELECT body FROM logs WHERE id = ?", (log_id,)).fetchone()
            record = {**json.loads(row[0]), **changes}
            self._db.execute(
                "UPDATE logs SET body = ? WHERE id = ?", (json.dumps(record, separators=(",", ":")), log_id)
            )
        return record

    def trace_of(self, log_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT trace_id FROM logs WHERE id = ?", (log_id,)).fetchone()
        return row[0] if row else None

    def insert(self, record: dict[str, Any], *, received_at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO logs(id, tool_id, version_id, path, trace_parent_id, trace_id, received_at, body)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    record["id"],
                    record["tool_id"],
                    record["version_id"],
                    record["path"],
                    record.get("trace_parent_id"),
                    record["trace_id"],
                    received_at,
                    json.dumps(record, separators=(",", ":")),
                ),
            )

    def list(
        self,
        *,
        path: str | None = None,
        trace_id: str | None = None,
        has_error: bool | None = None,
        page: int = 1,
        size: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        where, args = [], []
        if path:
            # a plain, case-insensitive substring (as the trace page filters): "_" and "%" in Tool
            # paths are characters, not LIKE wildcards
            where.append("instr(lower(path), lower(?)) > 0")
            args.append(path)
        if trace_id:
            where.append("trace_id = ?")
            args.append(trace_id)
        if has_error is not None:
            where.append("json_extract(body, '$.error') IS " + ("NOT NULL" if has_error else "NULL"))
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM logs{clause}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT body FROM logs{clause} ORDER BY seq LIMIT ? OFFSET ?", [*args, size, (page - 1) * size]
            ).fetchall()
        return [json.loads(r[0]) for r in rows], total

    def get(self, log_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM logs WHERE id = ?", (log_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def trace_ids(self, limit: int = 50) -> builtins.list[str]:  # `list` is a method of this class
        with self._lock:
            rows = self._db.execute(
                "SELECT trace_id, MAX(seq) AS last FROM logs GROUP BY trace_id ORDER BY last DESC LIMIT ?", (limit,)
            ).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM logs").fetchone()[0]

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM logs")
            self._db.execute("DELETE FROM tool_versions")
