"""Server-side prepared statements on PostgreSQL, for the few statements every request or every press runs.

PostgreSQL plans a statement anew each time it is sent as text; for the floor's press statement planning took
longer than running it. A prepared statement is planned once per connection (after a few runs PostgreSQL keeps a
generic plan). Turn them off with DATABASE_PREPARED_STATEMENTS=0 behind a pooler that does not keep a server
connection per client connection (PgBouncer in transaction mode).
"""

import re
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_NOT_PREPARED = "26000"  # invalid_sql_statement_name: the connection lost it (a reset, a pooler)


class PreparedStatement:
    """One statement written with %(name)s placeholders, run prepared on PostgreSQL and as text elsewhere.

    `types` gives the PostgreSQL type of each placeholder, so the plan does not depend on the first values sent.
    """

    def __init__(self, name: str, sql: str, types: dict[str, str]) -> None:
        self.name, self.sql = name, sql
        self.order: list[str] = []

        def number(match: re.Match) -> str:
            if match.group(1) not in self.order:
                self.order.append(match.group(1))
            return f"${self.order.index(match.group(1)) + 1}"

        body = _PLACEHOLDER.sub(number, sql)
        self.prepare_sql = f"PREPARE {name} ({', '.join(types[key] for key in self.order)}) AS {body}"
        self.execute_sql = f"EXECUTE {name} ({', '.join(['%s'] * len(self.order))})"
        # (connection object, server process) pairs that hold the statement; the pid tells apart a new connection
        # that Python happened to give the same id.
        self._prepared: set[tuple[int, int]] = set()

    def execute(self, cursor, params: dict[str, Any]) -> None:
        """Run the statement on `cursor` (of the default connection); read its rows from the cursor."""
        if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
            cursor.execute(self.sql, params)
            return
        raw = connection.connection
        holder = (id(raw), raw.get_backend_pid())
        values = [params[key] for key in self.order]
        if holder not in self._prepared:
            # Once per connection: it may hold the statement already (prepared by code that was reloaded).
            cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [self.name])
            if cursor.fetchone() is None:
                cursor.execute(self.prepare_sql)
            self._prepared.add(holder)
        try:
            cursor.execute(self.execute_sql, values)
        except DatabaseError as exc:
            # Inside a transaction the failed statement spoiled it: only the caller can start over.
            if getattr(exc.__cause__, "pgcode", None) != _NOT_PREPARED or connection.in_atomic_block:
                raise
            cursor.execute(self.prepare_sql)
            cursor.execute(self.execute_sql, values)
