"""Names that look alike: trigram similarity of customers' names and identities' handles and display
names, so "Kofi Zhu" finds Kofi Zhou (PostgreSQL's pg_trgm, with GIN indexes: customers 0003).

On the embedded SQLite default there is no such matching: callers get nothing to add.
"""

import re

from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import connection
from django.db.models import FloatField, Q, Value
from django.db.models.functions import Greatest

from customers.models import Customer, Identity

# Fuzzy matching is for names: a text with a digit in it (an order number, a phone) is not one, and
# one of more than four words is a sentence.
_NAME_LIKE = re.compile(r"[^\W\d_]{2,}(?:[\s.'-]+[^\W\d_]+){0,3}")


def _name_like(text: str) -> bool:
    return connection.vendor == "postgresql" and bool(_NAME_LIKE.fullmatch(text.strip().lstrip("@")))


def looks_like(text: str) -> Q:
    """Customers whose name, or a handle or display name of theirs, looks like the text (for Customer)."""
    if not _name_like(text):
        return Q(pk__in=[])
    text = text.strip().lstrip("@")
    identities = Identity.objects.filter(
        Q(handle__trigram_word_similar=text) | Q(display_name__trigram_word_similar=text)
    ).values("customer_id")
    return Q(name__trigram_word_similar=text) | Q(pk__in=identities)


def likeness(text: str):
    """How much a customer's name looks like the text (0 to 1), to order fuzzy matches best first."""
    if not _name_like(text):
        return Value(0.0, output_field=FloatField())
    return Greatest(TrigramSimilarity("name", text.strip().lstrip("@")), Value(0.0))


def similar_names(text: str, *, limit: int = 5) -> list[str]:
    """The names, handles and display names that look most like the text, best first; three index lookups."""
    if not _name_like(text):
        return []
    text = text.strip().lstrip("@")
    found: dict[str, float] = {}
    for model, field in ((Customer, "name"), (Identity, "handle"), (Identity, "display_name")):
        matches = (
            model.objects.filter(**{f"{field}__trigram_word_similar": text})
            .annotate(likeness=TrigramWordSimilarity(text, field))
            .order_by("-likeness")
            .values_list(field, "likeness")[:limit]
        )
        for name, score in matches:
            found[name] = max(score, found.get(name, 0.0))
    return sorted(found, key=lambda name: -found[name])[:limit]
