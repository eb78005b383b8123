"""Database helpers the ORM lacks."""

import re
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def update_rows(objects: Sequence[Model], fields: list[str]) -> None:
    """Write `fields` of each object to its row, in one statement on PostgreSQL.

    Django's bulk_update builds a CASE expression per field and row, which costs far more Python
    time than the write itself in a batch of hundreds. On PostgreSQL this is one
    UPDATE ... FROM (VALUES ...); elsewhere an UPDATE per row, sent as one executemany.
    All objects must be of one model and saved.
    """
    if not objects:
        return
    meta = type(objects[0])._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    rows = [[field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns] for obj in objects]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            casts = ", ".join(f"%s::{field.db_type(connection)}" for field in columns)
            values = ", ".join([f"({casts})"] * len(rows))
            names = ", ".join(quote(field.column) for field in columns)
            assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns[1:])
            sql = (
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} FROM (VALUES {values}) AS v({names}) "  # noqa: S608
                f"WHERE t.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
            )
            cursor.execute(sql, [value for row in rows for value in row])
        else:
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns[1:])
            sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
            cursor.executemany(sql, [row[1:] + row[:1] for row in rows])


_ID = re.compile(r"[0-9]{1,18}")


def parse_id(text) -> int | None:
    """A row id typed or posted by a user, or None: ASCII digits only, and small enough for a bigint.

    (str.isdigit accepts '²' and '٣', which int() then refuses or the database overflows on.)
    """
    return int(text) if isinstance(text, str) and _ID.fullmatch(text) else None


def postgresql_only(sql: str, reverse_sql: str):
    """A migration operation that runs `sql` (and `reverse_sql` backwards) on PostgreSQL only: what
    it builds (triggers, extension indexes) the embedded SQLite default does without."""
    from django.db import migrations

    def run(statement: str):
        def operation(apps, schema_editor) -> None:
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(statement)

        return operation

    return migrations.RunPython(run(sql), run(reverse_sql))
