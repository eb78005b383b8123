"""Search: the words each conversation is found by, kept by PostgreSQL itself (inbox.SearchDocument).

On PostgreSQL, functions turn a text into words (stemmed in the message's language where it is
known, and unstemmed too, so the exact word and its other forms both match), and triggers keep
every conversation's document current:

- messages and notes, as each statement stores them (statement-level, so a bulk ingest of a
  thousand mentions adds to each conversation's document once);
- a new conversation starts with its customer's name, e-mail, handles and display names, and subject;
- a customer's new name or e-mail, an identity added, renamed or moved to another customer, and a
  conversation moved to another customer (a merge, an undone merge) redo the documents they change.

A document holds at most about 8,000 distinct words; the first 10,000 characters of each text and
words of up to 24 letters count (longer ones are codes and links, not what anyone types).
The SQLite default builds none of this: inbox.search reads the messages there.
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

from socialcrm.db import postgresql_only

# The languages PostgreSQL stems, by the ISO 639-1 codes triage.language detects; inbox.search.STEMMED
# lists the same (a test holds them equal). Any other language is searched by its words unstemmed.
FUNCTIONS = """
CREATE FUNCTION socialcrm_search_config(language text) RETURNS regconfig
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (CASE language
        WHEN 'en' THEN 'english' WHEN 'es' THEN 'spanish' WHEN 'fr' THEN 'french' WHEN 'de' THEN 'german'
        WHEN 'pt' THEN 'portuguese' WHEN 'it' THEN 'italian' WHEN 'nl' THEN 'dutch' WHEN 'ru' THEN 'russian'
        WHEN 'ar' THEN 'arabic' WHEN 'el' THEN 'greek' WHEN 'hi' THEN 'hindi' WHEN 'ta' THEN 'tamil'
        WHEN 'hy' THEN 'armenian' ELSE 'simple' END)::regconfig
$$;

CREATE FUNCTION socialcrm_search_words(language text, body text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_to_tsvector(array(
        SELECT word FROM unnest(tsvector_to_array(
            to_tsvector(socialcrm_search_config(language), part) || to_tsvector('simple', part)
        )) AS word
        WHERE length(word) <= 24
    )), ''::tsvector)
    FROM (SELECT left(coalesce(body, ''), 10000) AS part) AS cut
$$;

CREATE FUNCTION socialcrm_search_join(words tsvector, more tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN words IS NULL THEN more WHEN more IS NULL OR length(words) >= 8000 THEN words
                ELSE words || more END
$$;

CREATE AGGREGATE socialcrm_search_agg(tsvector) (SFUNC = socialcrm_search_join, STYPE = tsvector);

CREATE FUNCTION socialcrm_customer_words(customer bigint) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT socialcrm_search_join(
        socialcrm_search_words('', concat_ws(' ', c.name, c.email, replace(c.email, '@', ' '))),
        (SELECT socialcrm_search_agg(socialcrm_search_words('', concat_ws(' ', i.handle, i.display_name)))
         FROM customers_identity i WHERE i.customer_id = c.id)
    )
    FROM customers_customer c WHERE c.id = customer
$$;

-- A conversation's document from scratch: its customer and subject first, then every message and note.
CREATE FUNCTION socialcrm_search_document(conversation bigint) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(socialcrm_search_agg(words), ''::tsvector) FROM (
        SELECT socialcrm_search_join(socialcrm_customer_words(c.customer_id), socialcrm_search_words('', c.subject))
        FROM inbox_conversation c WHERE c.id = conversation
        UNION ALL
        SELECT socialcrm_search_words(m.language, m.text) FROM inbox_message m WHERE m.conversation_id = conversation
        UNION ALL
        SELECT socialcrm_search_words('', n.text) FROM inbox_note n WHERE n.conversation_id = conversation
    ) AS parts(words)
$$;

CREATE FUNCTION socialcrm_search_conversations_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbox_searchdocument (conversation_id, words)
    SELECT id, coalesce(socialcrm_search_join(socialcrm_customer_words(customer_id), socialcrm_search_words('', subject)),
                        ''::tsvector)
    FROM added ORDER BY id
    ON CONFLICT (conversation_id) DO NOTHING;
    RETURN NULL;
END $$;

-- In conversation order, so two transactions adding to the same documents lock them in one order.
CREATE FUNCTION socialcrm_search_messages_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbox_searchdocument AS d (conversation_id, words)
    SELECT conversation_id, socialcrm_search_agg(socialcrm_search_words(language, text))
    FROM added GROUP BY conversation_id ORDER BY conversation_id
    ON CONFLICT (conversation_id) DO UPDATE SET words = socialcrm_search_join(d.words, EXCLUDED.words);
    RETURN NULL;
END $$;

CREATE FUNCTION socialcrm_search_notes_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbox_searchdocument AS d (conversation_id, words)
    SELECT conversation_id, socialcrm_search_agg(socialcrm_search_words('', text))
    FROM added GROUP BY conversation_id ORDER BY conversation_id
    ON CONFLICT (conversation_id) DO UPDATE SET words = socialcrm_search_join(d.words, EXCLUDED.words);
    RETURN NULL;
END $$;

CREATE FUNCTION socialcrm_search_redo_customer(customer bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE inbox_searchdocument SET words = socialcrm_search_document(conversation_id)
    WHERE conversation_id IN (SELECT id FROM inbox_conversation WHERE customer_id = customer);
$$;

CREATE FUNCTION socialcrm_search_customer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM socialcrm_search_redo_customer(NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION socialcrm_search_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM socialcrm_search_redo_customer(NEW.customer_id);
    IF TG_OP = 'UPDATE' AND OLD.customer_id IS DISTINCT FROM NEW.customer_id THEN
        PERFORM socialcrm_search_redo_customer(OLD.customer_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION socialcrm_search_conversation_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inbox_searchdocument SET words = socialcrm_search_document(NEW.id) WHERE conversation_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER search_conversations_added AFTER INSERT ON inbox_conversation
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION socialcrm_search_conversations_added();
CREATE TRIGGER search_messages_added AFTER INSERT ON inbox_message
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION socialcrm_search_messages_added();
CREATE TRIGGER search_notes_added AFTER INSERT ON inbox_note
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION socialcrm_search_notes_added();
CREATE TRIGGER search_customer_changed AFTER UPDATE OF name, email ON customers_customer
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION socialcrm_search_customer_changed();
CREATE TRIGGER search_identity_added AFTER INSERT ON customers_identity
    FOR EACH ROW EXECUTE FUNCTION socialcrm_search_identity_changed();
CREATE TRIGGER search_identity_changed AFTER UPDATE OF handle, display_name, customer_id ON customers_identity
    FOR EACH ROW WHEN (OLD.handle IS DISTINCT FROM NEW.handle OR OLD.display_name IS DISTINCT FROM NEW.display_name
                       OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION socialcrm_search_identity_changed();
CREATE TRIGGER search_conversation_moved AFTER UPDATE OF customer_id ON inbox_conversation
    FOR EACH ROW WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION socialcrm_search_conversation_moved();

INSERT INTO inbox_searchdocument (conversation_id, words)
SELECT id, socialcrm_search_document(id) FROM inbox_conversation;

CREATE INDEX search_document_words ON inbox_searchdocument USING gin (words);
"""

DROP = """
DROP TRIGGER IF EXISTS search_conversations_added ON inbox_conversation;
DROP TRIGGER IF EXISTS search_messages_added ON inbox_message;
DROP TRIGGER IF EXISTS search_notes_added ON inbox_note;
DROP TRIGGER IF EXISTS search_customer_changed ON customers_customer;
DROP TRIGGER IF EXISTS search_identity_added ON customers_identity;
DROP TRIGGER IF EXISTS search_identity_changed ON customers_identity;
DROP TRIGGER IF EXISTS search_conversation_moved ON inbox_conversation;
DROP FUNCTION IF EXISTS socialcrm_search_conversations_added, socialcrm_search_messages_added,
    socialcrm_search_notes_added, socialcrm_search_customer_changed, socialcrm_search_identity_changed,
    socialcrm_search_conversation_moved, socialcrm_search_redo_customer, socialcrm_search_document,
    socialcrm_customer_words;
DROP AGGREGATE IF EXISTS socialcrm_search_agg(tsvector);
DROP FUNCTION IF EXISTS socialcrm_search_join, socialcrm_search_words, socialcrm_search_config;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0017_conversation_open_index"),
        ("customers", "0003_trigram_names"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                (
                    "conversation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="inbox.conversation",
                    ),
                ),
                ("words", django.contrib.postgres.search.SearchVectorField()),
            ],
        ),
        migrations.AddField(
            model_name="message",
            name="language",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="ISO 639-1 code of the text's language, when known; search stems its words by it.",
                max_length=8,
            ),
        ),
        postgresql_only(FUNCTIONS, DROP),
    ]
