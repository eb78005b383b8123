"""Trigram indexes on names and handles, so a search for "Kofi Zhu" finds "Kofi Zhou" (PostgreSQL only)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from socialcrm.db import postgresql_only

INDEXES = """
CREATE INDEX customer_name_trigrams ON customers_customer USING gin (name gin_trgm_ops);
CREATE INDEX identity_handle_trigrams ON customers_identity USING gin (handle gin_trgm_ops);
CREATE INDEX identity_display_name_trigrams ON customers_identity USING gin (display_name gin_trgm_ops);
"""

DROP = """
DROP INDEX IF EXISTS customer_name_trigrams;
DROP INDEX IF EXISTS identity_handle_trigrams;
DROP INDEX IF EXISTS identity_display_name_trigrams;
"""


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_notes_merges_not_duplicates")]

    operations = [TrigramExtension(), postgresql_only(INDEXES, DROP)]
