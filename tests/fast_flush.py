"""pytest plugin (``-p tests.fast_flush``): the database emptied between transactional tests
in milliseconds instead of most of a second.

Django empties the database after each ``transactional_db``/``live_server`` test with the
``flush`` command: TRUNCATE of every table on PostgreSQL (about half a second for this
schema), then the ``post_migrate`` signal, which recreates content types and permissions,
the standard profile fields and the signing keys (another 0.2 to 0.6 s, RSA key generation
included). Here the first flush of a test process is Django's own; the rows it leaves (what
``post_migrate`` wrote) are copied once into side tables of the test database, and every
later flush is one transaction of ``DELETE FROM`` each table (TRUNCATE for the two
append-only tables whose PostgreSQL triggers refuse DELETE) and ``INSERT ... SELECT`` from
those copies. The database a test starts on is the same as after Django's flush, with the
same rows (keys and content type ids included) each time. On PostgreSQL the sequences of
the copied tables are moved past the copied ids: a migration test that drops and recreates
a table (profiling's reversible migrations) restarts its sequence at 1.

Test cases that ask for anything else of the flush (``available_apps``, serialized
rollback, sequences reset) get Django's own.
"""

from __future__ import annotations

from typing import Any

# database alias -> [(table, copy table)] for the tables post_migrate fills
_copies: dict[str, list[tuple[str, str]]] = {}
# database alias -> [(table, column, sequence)] of the copied tables (PostgreSQL)
_sequences: dict[str, list[tuple[str, str, str]]] = {}
_tables: dict[str, list[str]] = {}
_original_teardown: Any = None


def _django_tables(connection: Any) -> list[str]:
    if connection.alias not in _tables:
        _tables[connection.alias] = sorted(
            connection.introspection.django_table_names(only_existing=True, include_views=False)
        )
    return _tables[connection.alias]


def _execute(connection: Any, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One round trip (psycopg runs several statements when there are no parameters).
            cursor.execute(";\n".join(statements))
        else:
            for statement in statements:
                cursor.execute(statement)


def _copy_after_django_flush(connection: Any) -> list[tuple[str, str]]:
    """The rows left by Django's flush, copied into ``ciam_test_flush_<n>`` tables."""
    qn = connection.ops.quote_name
    copies: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        for number, table in enumerate(_django_tables(connection)):
            cursor.execute(f"SELECT 1 FROM {qn(table)} LIMIT 1")  # noqa: S608 - own table names
            if cursor.fetchone() is None:
                continue
            copy = f"ciam_test_flush_{number}"
            cursor.execute(f"DROP TABLE IF EXISTS {qn(copy)}")
            cursor.execute(f"CREATE TABLE {qn(copy)} AS SELECT * FROM {qn(table)}")  # noqa: S608
            copies.append((table, copy))
    return copies


def _copied_sequences(connection: Any, copies: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """PostgreSQL: the identity sequences of the copied tables."""
    if connection.vendor != "postgresql":
        return []
    found: list[tuple[str, str, str]] = []
    with connection.cursor() as cursor:
        for table, _copy in copies:
            for sequence in connection.introspection.get_sequences(cursor, table):
                found.append((table, sequence["column"], sequence["name"]))
    return found


def _sequence_statements(connection: Any) -> list[str]:
    """``setval`` of each copied table's sequence to at least its highest id: never lowered
    (as after Django's flush, ids are not reused), raised when the table was recreated."""
    qn = connection.ops.quote_name
    return [
        f"SELECT setval('{qn(sequence)}', GREATEST("  # noqa: S608 - own table names
        f"(SELECT COALESCE(MAX({qn(column)}), 1) FROM {qn(table)}), "
        f"(SELECT last_value FROM {qn(sequence)})))"
        for table, column, sequence in _sequences.get(connection.alias, [])
    ]


def _guarded_tables(connection: Any) -> list[str]:
    """PostgreSQL: the tables whose own triggers refuse DELETE (the audit log and the consent
    ledger are append-only, audit/migrations/0002, consent/migrations/0003). TRUNCATE
    empties them, as Django's flush does."""
    key = f"{connection.alias}:guarded"
    if key not in _tables:
        guarded: list[str] = []
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT DISTINCT c.relname FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
                )
                found = {row[0] for row in cursor.fetchall()}
            guarded = [table for table in _django_tables(connection) if table in found]
        _tables[key] = guarded
    return _tables[key]


def _fast_flush(alias: str) -> None:
    from django.db import connections, transaction

    connection = connections[alias]
    qn = connection.ops.quote_name
    guarded = _guarded_tables(connection)
    # The model tables' names, quoted: no outside input reaches these statements.
    statements = (
        [f"TRUNCATE {', '.join(qn(table) for table in guarded)} CASCADE"] if guarded else []
    )
    statements += [
        f"DELETE FROM {qn(table)}"  # noqa: S608
        for table in _django_tables(connection)
        if table not in guarded
    ]
    statements += [
        f"INSERT INTO {qn(table)} SELECT * FROM {qn(copy)}"  # noqa: S608
        for table, copy in _copies[alias]
    ]
    statements += _sequence_statements(connection)
    # Foreign keys are deferred (Django creates them DEFERRABLE INITIALLY DEFERRED): the
    # order of the statements does not matter inside the transaction.
    with transaction.atomic(using=alias):
        _execute(connection, statements)
    # Content types a test created are gone again (as after Django's flush, whose
    # post_migrate clears this cache).
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def _fixture_teardown(self: Any) -> None:
    from django.db import connections

    if self.available_apps is not None or self.serialized_rollback or self.reset_sequences:
        return _original_teardown(self)
    aliases = list(self._databases_names(include_mirrors=False))
    if all(alias in _copies for alias in aliases):
        for alias in aliases:
            _fast_flush(alias)
        return None
    _original_teardown(self)  # Django's flush, post_migrate included
    for alias in aliases:
        _copies[alias] = _copy_after_django_flush(connections[alias])
        _sequences[alias] = _copied_sequences(connections[alias], _copies[alias])
    return None


def pytest_configure(config: Any) -> None:
    global _original_teardown
    from django.test import TransactionTestCase

    if _original_teardown is None:
        _original_teardown = TransactionTestCase._fixture_teardown
        TransactionTestCase._fixture_teardown = _fixture_teardown  # type: ignore[method-assign]
