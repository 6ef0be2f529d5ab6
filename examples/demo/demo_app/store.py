from __future__ import annotations

import sqlite3


class Store:
    """Orders kept in a SQLite database."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, total REAL)")

    def add(self, total: float) -> int:
        cursor = self.db.execute("INSERT INTO orders (total) VALUES (?)", (total,))
        self.db.commit()
        return int(cursor.lastrowid or 0)

    def revenue(self) -> float:
        (value,) = self.db.execute("SELECT COALESCE(SUM(total), 0) FROM orders").fetchone()
        return float(value)

    def close(self) -> None:
        self.db.close()


def health() -> str:
    return "ok"
