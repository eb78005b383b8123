"""Finding conversations by what was written in them and who wrote it.

`/inbox/?q=WORDS` narrows any list (queue, tab, filters) to the conversations whose messages (in and
out), notes, subject, or customer (name, e-mail, handles, display names) hold every word; the last
word also as the start of one, as it is typed. A name that looks like the text counts too ("Kofi Zhu"
finds Kofi Zhou), and `#42` or `42` is conversation 42. The list's own query applies it, so search
sees only what the list would (inbox.selectors).

On PostgreSQL the words are in inbox.SearchDocument (kept by triggers, GIN-indexed), stemmed in each
message's language and unstemmed; a query word is looked up in every stemmed language and as written.
On the embedded SQLite default each word is looked for in the texts themselves (LIKE): slower, and
without stemming or fuzzy names, but it finds the same conversations for whole words.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models import Exists, F, Func, OuterRef, Q, Value
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from customers.models import Identity
from customers.search import similar_names
from inbox.models import Message, Note, SearchDocument
from socialcrm.db import parse_id

# The PostgreSQL text search configurations of the languages it stems, by ISO 639-1 code: the same
# mapping as socialcrm_search_config() in migration inbox 0018 (a test holds them equal).
STEMMED = {
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "de": "german",
    "pt": "portuguese",
    "it": "italian",
    "nl": "dutch",
    "ru": "russian",
    "ar": "arabic",
    "el": "greek",
    "hi": "hindi",
    "ta": "tamil",
    "hy": "armenian",
}
MAX_LENGTH = 200  # characters of a search kept
MAX_WORDS = 8  # words of it looked up
FEW = 2000  # matching conversations read by id; more are checked along the list's order
_WORD = re.compile(r"\w+")
_PREFIX = re.compile(r"[^\W_]+")  # letters and digits only
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def cleaned(text: str) -> str:
    """The search as the list keeps it: control characters dropped, whitespace collapsed, at most
    MAX_LENGTH characters."""
    return " ".join(_CONTROL.sub(" ", text).split())[:MAX_LENGTH]


def words_of(text: str) -> list[str]:
    """The words of the text, lowercased: what the SQLite fallback looks for, and what excerpts mark."""
    return _WORD.findall(text.lower())[:MAX_WORDS]


def terms_of(text: str) -> list[str]:
    """The text split where it has spaces: PostgreSQL's parser reads each as it read the documents
    (an e-mail address or a handle whole, and in parts too)."""
    return [term for term in text.split() if _WORD.search(term)][:MAX_WORDS]


def conversations_matching(text: str) -> Q:
    """The conversations the search finds (a condition on Conversation)."""
    words = words_of(text)
    found = []
    if (number := parse_id(text.strip().lstrip("#"))) is not None:
        found.append(Q(pk=number))
    if connection.vendor == "postgresql" and words:
        query = _every_term(*_stemmings(terms_of(text), similar_names(text)))
        documents = SearchDocument.objects.filter(words=_as_tsquery(query)) if query else SearchDocument.objects.none()
        # A few matches (a rare word, a name) are read by id from the GIN index; many (a common word)
        # are found by walking the list in its own order and checking each, which stops at a page.
        few = list(documents.values_list("conversation_id", flat=True)[: FEW + 1])
        if len(few) <= FEW:
            found.append(Q(pk__in=few))
        else:
            found.append(Q(Exists(documents.filter(conversation=OuterRef("pk")))))
    elif words:
        found.append(_containing_every_word(words))
    if not found:
        return Q(pk__in=[])
    condition = found[0]
    for more in found[1:]:
        condition |= more
    return condition


def _stemmings(terms: list[str], names: list[str]) -> tuple[list[list[str]], list[str]]:
    """Each term's distinct forms as tsquery text (as written, and stemmed in each language PostgreSQL
    stems; the last term also as a prefix), and each name's: one query. Distinct, because the planner
    reads an OR of fifteen copies of 'app' as fifteen chances to match, and then a rare name looks
    common enough to read the whole table for (240 ms at 200,000 conversations, not 10 ms)."""
    configs = ["simple", *STEMMED.values()]
    asked = [(config, term) for term in terms for config in configs] + [("simple", name) for name in names]
    if not asked:
        return [], []
    columns = ", ".join(["plainto_tsquery(%s::regconfig, %s)::text"] * len(asked))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}", [value for pair in asked for value in pair])
        forms = cursor.fetchone()
    per_term = []
    for position, term in enumerate(terms):
        found = forms[position * len(configs) : (position + 1) * len(configs)]
        distinct = list(dict.fromkeys(form for form in found if form))
        if position == len(terms) - 1 and _PREFIX.fullmatch(term):  # nothing the tsquery syntax would read
            distinct.append(f"'{term.lower()}':*")
        if distinct:
            per_term.append(distinct)
    return per_term, [form for form in forms[len(terms) * len(configs) :] if form]


def _every_term(per_term: list[list[str]], names: list[str]) -> str:
    """Every term in one of its forms, or one of the names (tsquery text)."""
    every = " & ".join(f"( {' | '.join(forms)} )" for forms in per_term)
    return " | ".join(f"( {part} )" for part in [every, *names] if part)


def _as_tsquery(text: str) -> SearchQuery:
    """The tsquery text as it stands: to_tsquery with the simple configuration leaves lexemes as they are."""
    return SearchQuery(text, config="simple", search_type="raw")


def _containing_every_word(words: list[str]) -> Q:
    """SQLite: each word in a message, a note, the subject, or the customer's name, e-mail or handles."""
    condition = Q()
    for word in words:
        handles = Identity.objects.filter(customer=OuterRef("customer_id")).filter(
            Q(handle__icontains=word) | Q(display_name__icontains=word)
        )
        condition &= (
            Q(Exists(Message.objects.filter(conversation=OuterRef("pk"), text__icontains=word)))
            | Q(Exists(Note.objects.filter(conversation=OuterRef("pk"), text__icontains=word)))
            | Q(subject__icontains=word)
            | Q(customer__name__icontains=word)
            | Q(customer__email__icontains=word)
            | Q(Exists(handles))
        )
    return condition


def excerpts(ids: list[int], text: str) -> dict[int, SafeString]:
    """For each of these conversations, the latest message (or else note) holding a searched word, cut
    around the first one, with the words marked (<mark>) and everything else escaped. Three queries at
    most (one stems the words)."""
    words = words_of(text)
    if not ids or not words:
        return {}
    found: dict[int, str] = {}
    any_word = _any_word(text)
    for texts in (
        Message.objects.order_by("conversation_id", "-posted_at", "-id"),
        Note.objects.order_by("conversation_id", "-created_at", "-id"),
    ):
        missing = [pk for pk in ids if pk not in found]
        if not missing:
            break
        for conversation_id, body in _holding(texts.filter(conversation_id__in=missing), any_word):
            found.setdefault(conversation_id, body)
    return {pk: marked(body, words) for pk, body in found.items()}


def _any_word(text: str) -> SearchQuery | Q | None:
    """What a message or note holding any searched word matches: a tsquery on PostgreSQL (one query
    to stem the words), a LIKE per word elsewhere; None when nothing is searchable."""
    if connection.vendor == "postgresql":
        per_term, _ = _stemmings(terms_of(text), [])
        return _as_tsquery(" | ".join(form for forms in per_term for form in forms)) if per_term else None
    any_word = Q()
    for word in words_of(text):
        any_word |= Q(text__icontains=word)
    return any_word


def _holding(texts, any_word: SearchQuery | Q | None):
    """(conversation id, text) of the texts holding a searched word, each conversation's latest first."""
    if any_word is None:
        return []
    if isinstance(any_word, SearchQuery):
        language = F("language") if texts.model is Message else Value("")
        in_words = Func(language, F("text"), function="socialcrm_search_words", output_field=SearchVectorField())
        return (
            texts.annotate(in_words=in_words)
            .filter(in_words=any_word)
            .distinct("conversation_id")
            .values_list("conversation_id", "text")
        )
    return texts.filter(any_word).values_list("conversation_id", "text")


BEFORE, AFTER = 32, 160  # characters of an excerpt around its first marked word


def marked(body: str, words: list[str]) -> SafeString:
    """The text around its first searched word, escaped, with each word that starts like one searched
    (so "refunds" marks "refund", "roam" marks "roaming") in <mark>."""
    stems = tuple(word if len(word) <= 4 else word[: max(4, len(word) - 3)] for word in words)
    spans = [match.span() for match in _WORD.finditer(body) if match.group().lower().startswith(stems)]
    if not spans:
        return escape(body[: BEFORE + AFTER])
    first = spans[0][0]
    short = len(body) <= BEFORE + AFTER  # shown whole
    space = body.find(" ", first - BEFORE, first) if first > BEFORE else -1
    start = 0 if short or first <= BEFORE else space + 1 if space >= 0 else first - BEFORE
    end = len(body) if short or len(body) <= first + AFTER else max(body.rfind(" ", first, first + AFTER), spans[0][1])
    parts = ["…" if start else ""]
    at = start
    for low, high in spans:
        if low < start or high > end:
            continue
        parts += [escape(body[at:low]), "<mark>", escape(body[low:high]), "</mark>"]
        at = high
    parts += [escape(body[at:end]), "…" if end < len(body) else ""]
    return mark_safe("".join(parts))  # noqa: S308 - every piece of the text is escaped above
