"""Multi-row inserts and upserts for the intake's hot path.

On PostgreSQL rows go straight to psycopg2's execute_values (Django's bulk_create spends most of its time
building and preparing model instances, which for tens of thousands of rows costs more than the database);
elsewhere Django's bulk_create does the same job.
"""

import csv
import io
import json
import zlib
from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from psycopg2.extras import Json


class JsonText:
    """A JSON value already serialised (the intake hashes the same text), so it is not encoded twice."""

    __slots__ = ("text", "value")

    def __init__(self, text: str, value: Any):
        self.text = text
        self.value = value


def _adapt(value: Any) -> Any:
    if isinstance(value, JsonText):
        return value.text  # an untyped literal, which PostgreSQL reads as the column's jsonb
    return Json(value) if isinstance(value, dict | list) else value


def insert_rows(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
    skip_existing: bool = False,
) -> list[tuple]:
    """Insert rows given as {field attname: value}; with `conflict`, update `update` on a clash (an upsert),
    or with `skip_existing` leave rows that clash on any unique key alone."""
    if not rows:
        return []
    if skip_existing:
        model.objects.bulk_create([model(**row) for row in rows], ignore_conflicts=True)
        return []
    if connection.vendor != "postgresql":
        return _django_insert(model, rows, conflict=conflict, update=update, returning=returning)
    if len(rows) >= COPY_THRESHOLD:
        return _copy_insert(model, rows, conflict=conflict, update=update, returning=returning)
    from psycopg2.extras import execute_values

    columns = list(rows[0])
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s"
    if conflict:
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in update)
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {assignments}"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    values = [tuple(_adapt(row[name]) for name in columns) for row in rows]
    with connection.cursor() as cursor:
        result = execute_values(cursor.cursor, sql, values, page_size=1000, fetch=bool(returning))
    return list(result or [])


COPY_THRESHOLD = 200


def stored_keys(
    model: type[models.Model], scope: dict[str, Any], key: str, keys: Sequence[Any], columns: Sequence[str]
) -> dict[Any, tuple]:
    """{key: (columns…)} of the stored rows matching `scope` whose `key` column is among `keys` (attnames).

    For the hash comparison of every order of every poll: plain tuples, no model instances, and on PostgreSQL
    one `= ANY` array parameter instead of a placeholder per key.
    """
    if not keys:
        return {}
    if connection.vendor != "postgresql":
        found = model.objects.filter(**scope, **{f"{key}__in": keys}).values_list(key, *columns)
        return {row[0]: tuple(row[1:]) for row in found}
    quote = connection.ops.quote_name
    conditions = [f"{quote(name)} = %s" for name in scope]
    sql = (
        f"SELECT {', '.join(quote(name) for name in (key, *columns))} FROM {quote(model._meta.db_table)} "
        f"WHERE {' AND '.join([*conditions, f'{quote(key)} = ANY(%s)'])}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*scope.values(), list(keys)])
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


def _csv_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, JsonText):
        return value.text
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "t" if value else "f"
    return value


def _copy_insert(model, rows, *, conflict, update, returning) -> list[tuple]:
    """COPY the rows (no per-row SQL to build or parse); an upsert goes through a temporary staging table."""
    columns = list(rows[0])
    table = model._meta.db_table
    nullable = {field.column for field in model._meta.concrete_fields if field.null}
    # In CSV an empty unquoted field is NULL; columns that cannot be NULL read it as an empty string instead.
    not_null = [name for name in columns if name not in nullable]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_csv_value(row[name]) for name in columns])
    buffer.seek(0)
    column_list = ", ".join(columns)
    options = f"FORMAT csv, FORCE_NOT_NULL ({', '.join(not_null)})" if not_null else "FORMAT csv"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if not conflict:
            raw.copy_expert(f"COPY {table} ({column_list}) FROM STDIN WITH ({options})", buffer)
            return []
        staging = f"_staging_{table}_{zlib.crc32(column_list.encode()):08x}"
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        raw.copy_expert(f"COPY {staging} ({column_list}) FROM STDIN WITH ({options})", buffer)
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in update)
        sql = (
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "
            f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {assignments}"
        )
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        raw.execute(sql)
        result = raw.fetchall() if returning else []
        raw.execute(f"TRUNCATE {staging}")
        return result


def _django_insert(model, rows, *, conflict, update, returning) -> list[tuple]:
    field_names = {field.attname: field.name for field in model._meta.concrete_fields}
    objects = [
        model(**{name: value.value if isinstance(value, JsonText) else value for name, value in row.items()})
        for row in rows
    ]
    if conflict:
        model.objects.bulk_create(
            objects,
            batch_size=500,
            update_conflicts=True,
            unique_fields=[field_names[name] for name in conflict],
            update_fields=[field_names[name] for name in update],
        )
    else:
        model.objects.bulk_create(objects, batch_size=500)
    if not returning:
        return []
    if any(obj.pk is None for obj in objects) and conflict:
        keys = {tuple(row[name] for name in conflict) for row in rows}
        lookup = {f"{conflict[-1]}__in": [key[-1] for key in keys]}
        found = model.objects.filter(**{conflict[0]: rows[0][conflict[0]]}, **lookup).values_list(*returning)
        return list(found)
    return [tuple(getattr(obj, name) for name in returning) for obj in objects]
