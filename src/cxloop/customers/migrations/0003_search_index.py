"""A substring index on profiles' search text, so a name or word search does not read every row.

SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+) over ``search_text``, kept in
step by triggers (also for the bulk importer's raw SQL). PostgreSQL: pg_trgm's GIN index, which
``LIKE '%term%'`` uses as it is.
"""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE customers_customer_fts USING fts5("
    "search_text, content='customers_customer', content_rowid='id', tokenize='trigram')",
    "INSERT INTO customers_customer_fts(rowid, search_text) "
    "SELECT id, search_text FROM customers_customer",
    "CREATE TRIGGER customers_customer_fts_insert AFTER INSERT ON customers_customer BEGIN "
    "INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER customers_customer_fts_delete AFTER DELETE ON customers_customer BEGIN "
    "INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER customers_customer_fts_update AFTER UPDATE OF search_text "
    "ON customers_customer WHEN old.search_text IS NOT new.search_text BEGIN "
    "INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS customers_customer_fts_update",
    "DROP TRIGGER IF EXISTS customers_customer_fts_delete",
    "DROP TRIGGER IF EXISTS customers_customer_fts_insert",
    "DROP TABLE IF EXISTS customers_customer_fts",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customers_customer_search_trgm "
    "ON customers_customer USING gin (search_text gin_trgm_ops)",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS customers_customer_search_trgm"]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_privacy_suppression_unmerge")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
