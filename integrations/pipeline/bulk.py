"""Multi-row inserts and upserts for the intake's hot path.

On PostgreSQL rows go straight to psycopg2's execute_values (Django's bulk_create spends most of its time
building and preparing model instances, which for tens of thousands of rows costs more than the database);
elsewhere Django's bulk_create does the same job.
"""

import io
import json
import zlib
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

import psycopg2
from django.db import connection, models, transaction
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


def _copy_text(text: str) -> str:
    """Text escaped for COPY's text format (a backslash, and the tab, newline and return that separate fields)."""
    if "\\" in text or "\n" in text or "\r" in text or "\t" in text:
        return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text


_NULL = "\\N"


def _copy_field(value: Any) -> str:
    """One value in COPY's text format, whatever its type."""
    if value is None:
        return _NULL
    if isinstance(value, str):
        return _copy_text(value)
    if isinstance(value, JsonText):
        return _copy_text(value.text)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return _copy_text(json.dumps(value, ensure_ascii=False))
    return _copy_text(str(value))


def _copy_column(values: list[Any]) -> list[str]:
    """A column's values in COPY's text format.

    Done a column at a time, by the column's types, so that most values cost one C call (str, or nothing for text
    without tabs, newlines or backslashes) instead of a Python call per value.
    """
    kinds = set(map(type, values))
    nulls = type(None) in kinds
    kinds.discard(type(None))
    if len(kinds) != 1:
        return [_copy_field(value) for value in values]  # mixed types: value by value
    kind = kinds.pop()
    if kind is JsonText:
        values, kind = [_NULL if value is None else value.text for value in values], str
    elif kind is dict or kind is list:
        values = [_NULL if value is None else json.dumps(value, ensure_ascii=False) for value in values]
        kind = str
    if issubclass(kind, str):  # text, and choices (str subclasses) of status columns
        texts = [_NULL if value is None else value for value in values] if nulls else values
        joined = "".join(texts)
        if "\\" in joined or "\n" in joined or "\r" in joined or "\t" in joined:
            return [text if text is _NULL else _copy_text(text) for text in texts]
        return texts
    if kind is bool:
        return [_NULL if value is None else "t" if value else "f" for value in values]
    if kind is datetime and not nulls and len(set(map(id, values))) == 1:
        return [str(values[0])] * len(values)  # the run's timestamp, in every row
    if kind in (int, Decimal, datetime, date):
        return [_NULL if value is None else str(value) for value in values] if nulls else list(map(str, values))
    return [_copy_field(value) for value in values]


def _copy_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as COPY text-format lines.

    COPY's text format needs only four characters escaped, where CSV quotes and scans every field (the payload
    JSON, full of quotes, most of all).
    """
    converted = [_copy_column(list(map(itemgetter(name), rows))) for name in columns]
    return "\n".join(map("\t".join, zip(*converted, strict=True))) + "\n"


def _copy_insert(model, rows, *, conflict, update, returning) -> list[tuple]:
    """COPY the rows (no per-row SQL to build or parse); an upsert goes through a temporary staging table."""
    columns = list(rows[0])
    table = model._meta.db_table
    buffer = io.BytesIO(_copy_rows(rows, columns).encode())
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if not conflict:
            raw.copy_expert(f"COPY {table} ({column_list}) FROM STDIN", buffer)
            return []
        staging = f"_staging_{table}_{zlib.crc32(column_list.encode()):08x}"
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        raw.copy_expert(f"COPY {staging} ({column_list}) FROM STDIN", buffer)
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


def copy_new_rows(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, returning: Sequence[str]
) -> list[tuple] | None:
    """COPY rows none of which is stored yet straight into the table, their ids drawn from its sequence.

    A first sync writes only new orders: this skips the upsert's staging table and second pass over every row.
    None, with nothing written, if the rows cannot go this way (not PostgreSQL, too few for COPY) or one of them
    was stored meanwhile (another writer, a webhook): the caller then upserts them.
    """
    if connection.vendor != "postgresql" or len(rows) < COPY_THRESHOLD:
        return None
    table, pk = model._meta.db_table, model._meta.pk.attname
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            raw.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, model._meta.pk.column, len(rows)],
            )
            rows = [{pk: pk_value, **row} for (pk_value,), row in zip(raw.fetchall(), rows, strict=True)]
            columns = list(rows[0])
            raw.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.BytesIO(_copy_rows(rows, columns).encode())
            )
    except psycopg2.IntegrityError:
        return None
    return [tuple(row[name] for name in returning) for row in rows]


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
