"""Full-text search: an FTS5 table on SQLite, a generated tsvector with a GIN index on
PostgreSQL (see cxloop.text.search)."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS text_search USING fts5(body, tokenize='porter unicode61')",
    "INSERT INTO text_search (rowid, body) SELECT id, text FROM text_textanalysis",
]
SQLITE_BACK = ["DROP TABLE IF EXISTS text_search"]
POSTGRES = [
    "ALTER TABLE text_textanalysis ADD COLUMN search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX text_search_gin ON text_textanalysis USING GIN (search)",
]
POSTGRES_BACK = [
    "DROP INDEX IF EXISTS text_search_gin",
    "ALTER TABLE text_textanalysis DROP COLUMN IF EXISTS search",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("text", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_BACK, "postgresql": POSTGRES_BACK}),
        ),
    ]
