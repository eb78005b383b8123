"""Search: `/inbox/?q=WORDS` finds conversations by their words and their customer, within the list shown."""

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Identity
from inbox import search
from inbox.models import Conversation, Message, Note, SearchDocument
from inbox.selectors import ListFilters, conversation_list
from inbox.services.conversations import add_note
from inbox.services.ingest import ingest
from inbox.services.replies import reply
from profiles.selectors import search_customers
from profiles.services import merge_customers
from tests.factories import make_channel, make_conversation, make_customer, make_user
from tests.helpers import mention
from triage.models import Queue

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text search")


def found(user, text: str, *, queue: str = "service", status_filter: str = "all") -> set[int]:
    rows, _ = conversation_list(
        user, queue=Queue.objects.get(slug=queue), status_filter=status_filter, filters=ListFilters(q=text)
    )
    return {row.pk for row in rows}


def write(conversation: Conversation, text: str, *, language: str = "", direction: str = "in") -> Message:
    return Message.objects.create(
        channel=conversation.channel,
        conversation=conversation,
        external_id=f"{conversation.pk}-{Message.objects.count()}",
        direction=direction,
        text=text,
        language=language,
        posted_at=timezone.now(),
    )


def test_finds_a_conversation_by_what_anyone_wrote_in_it_and_by_who_the_customer_is(agent_in_service_queue):
    customer = make_customer("Priya Patel", email="priya.patel@example.net")
    roaming = make_conversation("service", text="Roaming in Lisbon cost me 40 euros", customer=customer)
    Identity.objects.filter(customer=customer).update(handle="@priya_travels")
    reply(conversation=roaming, text="We have refunded the roaming charge", private=False, by=agent_in_service_queue)
    add_note(conversation=roaming, author=agent_in_service_queue, text="Checked with billing: a goodwill credit")
    other = make_conversation("service", text="My router keeps dropping", customer=make_customer("Fox Mulder"))
    sam = agent_in_service_queue

    assert found(sam, "lisbon") == {roaming.pk}  # the customer's message
    assert found(sam, "refunded") == {roaming.pk}  # our reply
    assert found(sam, "goodwill") == {roaming.pk}  # an internal note
    assert found(sam, "Priya") == {roaming.pk}  # the customer's name
    assert found(sam, "priya.patel@example.net") == {roaming.pk}  # e-mail
    assert found(sam, f"#{other.pk}") == {other.pk}  # the conversation's number
    assert found(sam, "ROUTER Dropping") == {other.pk}  # every word, in any case
    assert found(sam, "router lisbon") == set()  # ... every word
    assert found(sam, "lisb") == {roaming.pk}  # the last word as it is being typed


@on_postgresql
def test_finds_a_handle_and_a_name_that_only_looks_alike(agent_in_service_queue):
    kofi = make_conversation("service", text="Where is my parcel?", customer=make_customer("Kofi Zhou"))
    Identity.objects.filter(customer=kofi.customer).update(handle="@kofi_z")
    make_conversation("service", text="Where is my parcel?", customer=make_customer("Dana Scully"))

    assert found(agent_in_service_queue, "Kofi Zhu") == {kofi.pk}
    assert found(agent_in_service_queue, "@kofi_z") == {kofi.pk}


@on_postgresql
def test_words_are_stemmed_in_the_language_they_were_written_in(agent_in_service_queue):
    german = make_conversation("service", text="Hallo", customer=make_customer("Jonas Berg"))
    write(german, "Meine Rechnungen sind seit Monaten falsch", language="de")
    english = make_conversation("service", text="Hello", customer=make_customer("Tom Baker"))
    write(english, "Two refunds are still missing", language="en")

    # Not the last word, so no prefix match helps: "rechnung" is found only as the stem of "Rechnungen".
    assert found(agent_in_service_queue, "rechnung falsch") == {german.pk}
    assert found(agent_in_service_queue, "refund missing") == {english.pk}
    assert found(agent_in_service_queue, "refunding missing") == {english.pk}


@on_postgresql
def test_the_languages_stemmed_are_the_ones_the_database_stems():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, socialcrm_search_config(code)::text FROM unnest(%s::text[]) AS code",
            [[*search.STEMMED, "ja"]],
        )
        configs = dict(cursor.fetchall())
    assert configs == {**search.STEMMED, "ja": "simple"}


@on_postgresql
def test_the_words_follow_the_customer_through_renames_new_handles_and_merges(agent_in_service_queue):
    sam = agent_in_service_queue
    conversation = make_conversation("service", text="Billing question", customer=make_customer("Dana Scully"))
    customer = conversation.customer

    customer.name = "Dana Katherine"
    customer.save()
    assert found(sam, "Katherine") == {conversation.pk}
    assert found(sam, "Scully") == set()  # the old name is gone from the document

    Identity.objects.create(customer=customer, network="instagram", external_id="ig-1", handle="@danak_insta")
    assert found(sam, "danak_insta") == {conversation.pk}

    keeper = make_customer("Agent Mulder")
    merge_customers(keep=keeper, merge=customer, by=make_user("maria", role="manager"))
    assert found(sam, "Mulder") == {conversation.pk}  # the conversation is now the kept customer's


@on_postgresql
def test_a_batch_of_mentions_is_searchable_as_soon_as_it_is_stored(agent_in_service_queue):
    channel = make_channel("x-main")
    channel.default_queue = Queue.objects.get(slug="service")
    channel.save()

    ingest(
        channel=channel,
        mentions=[
            mention("t1", "Tethering stopped working", author="a1"),
            mention("t2", "Tethering is broken since the update", author="a2"),
            mention("t3", "Also the hotspot", author="a1"),
        ],
    )

    documents = SearchDocument.objects.filter(conversation__messages__external_id__in=["t1", "t2"]).distinct()
    assert documents.count() == 2
    assert len(found(agent_in_service_queue, "tethering")) == 2
    assert len(found(agent_in_service_queue, "tethering hotspot")) == 1  # t1 and t3 thread together


def test_search_keeps_to_the_tab_and_filters_and_the_page_says_where_else_to_look(agent_client):
    open_one = make_conversation("service", text="Roaming charges abroad", sentiment="negative")
    done = make_conversation("service", text="Roaming worked fine", status=Conversation.Status.RESOLVED)

    active = agent_client.get("/inbox/?queue=service&q=roaming", headers={"HX-Request": "true"})
    assert f"conversation-{open_one.pk}" in active.text and f"conversation-{done.pk}" not in active.text

    everything = agent_client.get("/inbox/?queue=service&status=all&q=roaming")
    assert f"conversation-{open_one.pk}" in everything.text and f"conversation-{done.pk}" in everything.text
    assert 'value="roaming"' in everything.text  # the box shows what was searched (a bookmarkable URL)

    narrowed = agent_client.get("/inbox/?queue=service&status=all&sentiment=positive&q=roaming")
    assert "matches “roaming”" in narrowed.text
    assert "Search all of Service" in narrowed.text and "status=all&amp;q=roaming" in narrowed.text


def test_an_agent_never_finds_another_queues_conversation(agent_client, agent_in_service_queue, manager):
    press = make_conversation("pr", text="Journalist asking about the outage in Leeds")
    mine = make_conversation("service", text="Outage in Leeds again")

    assert found(agent_in_service_queue, "leeds") == {mine.pk}
    assert found(agent_in_service_queue, f"#{press.pk}") == set()
    assert agent_client.get("/inbox/?queue=pr&q=leeds").status_code == 404
    placed = agent_client.get(f"/inbox/placement?queue=service&status=all&q=leeds&ids={press.pk},{mine.pk}")
    assert f"conversation-{mine.pk}" in placed.text and f"conversation-{press.pk}" not in placed.text
    assert found(manager, "leeds", queue="pr") == {press.pk}  # managers see every queue


def test_matched_words_are_marked_and_everything_the_customer_wrote_is_escaped(agent_client):
    make_conversation("service", text='<img src=x onerror="alert(1)"> my roaming <b>bill</b> & more')

    page = agent_client.get("/inbox/?queue=service&q=roaming", headers={"HX-Request": "true"})

    assert "<mark>roaming</mark>" in page.text
    assert "onerror=&quot;alert(1)&quot;&gt; my <mark>" in page.text and "<img src=x" not in page.text
    assert "&lt;b&gt;bill&lt;/b&gt; &amp; more" in page.text


def test_an_excerpt_is_cut_around_the_first_word_found():
    text = "Hello. " * 20 + "Our roaming bill from Lisbon is wrong, and roamed data too. " + "Thanks. " * 40

    excerpt = search.marked(text, ["roam"])

    assert excerpt.startswith("…") and excerpt.endswith("…")
    assert "<mark>roaming</mark> bill from Lisbon" in excerpt and "<mark>roamed</mark>" in excerpt
    assert len(excerpt) < 260
    short = "Third time I'm asking: where is my refund?"
    assert search.marked(short, ["refund"]) == "Third time I&#x27;m asking: where is my <mark>refund</mark>?"  # whole


@pytest.mark.parametrize(
    "typed",
    ["x" * 5000, "a & | ! :* ( ' \\", "\troaming\n\x7f", "   ", "#99999999999999999999", "''::*", "é" * 300],
)
def test_any_text_typed_is_a_search_not_an_error(agent_client, typed):
    make_conversation("service", text="Roaming in Lisbon")

    response = agent_client.get("/inbox/", {"queue": "service", "q": typed}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert len(search.cleaned(typed)) <= search.MAX_LENGTH and "\x00" not in search.cleaned(typed)


def test_without_postgresql_every_word_is_looked_for_in_the_texts(agent_in_service_queue):
    """The embedded SQLite default's fallback, run here on whichever database the tests use."""
    customer = make_customer("Priya Patel")
    roaming = make_conversation("service", text="Roaming in Lisbon", customer=customer)
    Note.objects.create(conversation=roaming, text="goodwill credit given")
    make_conversation("service", text="Roaming in Paris")

    def matching(*words):
        return set(Conversation.objects.filter(search._containing_every_word(list(words))).values_list("pk", flat=True))

    assert matching("roaming", "lisbon") == {roaming.pk}
    assert matching("goodwill", "priya") == {roaming.pk}
    assert matching(f"customer{customer.pk}") == {roaming.pk}  # the factory's handle
    assert matching("roaming", "madrid") == set()


@on_postgresql
def test_customer_search_finds_names_that_only_look_alike_the_likest_first(manager):
    make_customer("Kofi Zhou")
    make_customer("Kofi Zhong")
    make_customer("Dana Scully")

    names = [customer.name for customer in search_customers(manager, "Kofi Zhu")]

    assert names[:1] == ["Kofi Zhou"] and "Dana Scully" not in names
