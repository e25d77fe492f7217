"""A scratch PostgreSQL database for a benchmark: created beside DATABASE_URL's, Django pointed at it with
production-like settings and migrated, dropped afterwards whatever happens."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse


def admin_connection(database_url: str):
    """An autocommit connection to the server's `postgres` database, for creating and dropping others."""
    import psycopg2

    conn = psycopg2.connect(urlunparse(urlparse(database_url)._replace(path="/postgres")))
    conn.autocommit = True
    return conn


@contextmanager
def scratch_database(bench: str, **environment: str) -> Iterator[str]:
    """Run the block against a fresh, migrated database named after `bench`; yields its name.

    DEBUG is off (no SQL capture or template debugging in the timings); `environment` sets further variables
    before Django starts."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"bench/{bench}.py needs DATABASE_URL pointing at PostgreSQL")
    scratch = f"loopline_bench_{bench}_{os.getpid()}"
    admin = admin_connection(database_url)
    admin.cursor().execute(f'CREATE DATABASE "{scratch}"')
    try:
        os.environ["DATABASE_URL"] = urlunparse(urlparse(database_url)._replace(path=f"/{scratch}"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ["DJANGO_DEBUG"] = "0"
        os.environ.setdefault("DJANGO_SECRET_KEY", f"bench-{bench}-only-a-scratch-database-" + "x" * 20)
        os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "0"
        os.environ.pop("DATABASE_REPLICA_URL", None)
        os.environ.update(environment)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield scratch
    finally:
        from django.db import connections

        connections.close_all()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.close()
