"""Merging two customers who are one person, undoing it, and the list of likely duplicates."""

import pytest

from customers.models import Customer, CustomerNote, CustomerRecord, Identity, Merge, Network
from inbox.models import Conversation, Event, Message
from profiles.selectors import likely_duplicates
from profiles.services import merge_customers, undo_merge
from socialcrm.errors import Refused
from tests.factories import make_channel, make_conversation, make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def _two_of_one_person():
    on_x = make_customer("Dana Scully", email="", tier="plus", lifetime_value=100, tags=["fibre"])
    by_mail = make_customer("D. Scully", email="dana@example.com", phone="+447700900123", tier="vip",
                            lifetime_value=40, external_ref="CRM-7", tags=["Fibre", "late payer"])  # fmt: skip
    x_conversation = make_conversation("service", customer=on_x, text="on X")
    mail = make_channel("mail", network=Network.EMAIL, kind="email")
    make_conversation("service", customer=by_mail, channel=mail, text="by e-mail")
    CustomerRecord.objects.create(
        customer=by_mail, kind="order", source="shop", title="Order 7", occurred_at=x_conversation.created_at
    )
    CustomerNote.objects.create(customer=by_mail, text="Call after 6pm")
    return on_x, by_mail


def test_a_merge_moves_identities_and_history_fills_gaps_and_is_audited(manager_client, manager):
    keep, other = _two_of_one_person()

    response = manager_client.post(f"/customers/{keep.pk}/merge", {"other": other.pk}, follow=True)

    assert f"Merged #{other.pk} (D. Scully) into #{keep.pk}: 1 identity, 1 conversation, 1 record, 1 note." in (
        response.content.decode()
    )
    keep.refresh_from_db()
    other.refresh_from_db()
    assert other.merged_into == keep and other.external_ref == ""
    assert (keep.email, keep.phone, keep.external_ref) == ("dana@example.com", "+447700900123", "CRM-7")
    assert (keep.name, keep.tier, keep.lifetime_value) == ("Dana Scully", "vip", 100)  # own name; larger tier, value
    assert keep.tags == ["fibre", "late payer"]
    assert set(Conversation.objects.values_list("customer_id", flat=True)) == {keep.pk}
    assert Identity.objects.filter(customer=keep).count() == 2
    assert keep.records.count() == 1 and keep.notes.count() == 1
    event = Event.objects.get(kind=Event.Kind.CUSTOMER_MERGED, customer=keep)
    assert event.actor == manager and event.data["moved"]["conversations"] == 1
    # The old page leads to the kept customer, whose timeline holds both channels.
    page = manager_client.get(f"/customers/{other.pk}/", follow=True).content.decode()
    assert "on X" in page and "by e-mail" in page and "Undo merge" in page


def test_undo_puts_everything_back_including_what_arrived_since(manager_client, manager):
    keep, other = _two_of_one_person()
    mail_conversation = Conversation.objects.get(channel__slug="mail")
    before = {c.pk: c.customer_id for c in Conversation.objects.all()}
    merge = merge_customers(keep=keep, merge=other, by=manager)
    # After the merge the e-mail identity writes again, on a new conversation of the kept customer.
    mail_identity = Identity.objects.get(network=Network.EMAIL)
    later = Conversation.objects.create(customer=keep, channel=mail_conversation.channel, queue=mail_conversation.queue)
    Message.objects.create(
        channel=later.channel, conversation=later, external_id="after", author=mail_identity, text="again",
        posted_at=later.created_at,
    )  # fmt: skip

    response = manager_client.post(f"/customers/merges/{merge.pk}/undo", follow=True)

    assert "Merge undone" in response.content.decode()
    keep.refresh_from_db()
    other.refresh_from_db()
    assert other.merged_into is None and other.external_ref == "CRM-7"
    assert (keep.email, keep.phone, keep.external_ref, keep.tier) == ("", "", "", "plus")
    assert keep.lifetime_value == 100 and keep.tags == ["fibre"]
    assert {c.pk: c.customer_id for c in Conversation.objects.exclude(pk=later.pk)} == before
    assert Conversation.objects.get(pk=later.pk).customer == other
    assert mail_identity.__class__.objects.get(pk=mail_identity.pk).customer == other
    assert other.records.count() == 1 and other.notes.count() == 1
    assert Event.objects.filter(kind=Event.Kind.CUSTOMER_UNMERGED).count() == 2

    # Twice is refused, and nothing changes.
    page = manager_client.post(f"/customers/merges/{merge.pk}/undo", follow=True).content.decode()
    assert "already undone" in page


def test_a_merge_is_refused_for_the_same_customer_or_an_already_merged_one(manager):
    keep, other = _two_of_one_person()
    third = make_customer("Third")
    with pytest.raises(Refused, match="themselves"):
        merge_customers(keep=keep, merge=keep, by=manager)
    merge_customers(keep=keep, merge=other, by=manager)
    with pytest.raises(Refused, match="already merged"):
        merge_customers(keep=third, merge=other, by=manager)


def test_undo_waits_for_a_later_merge_of_the_kept_customer(manager):
    keep, other = _two_of_one_person()
    first = merge_customers(keep=keep, merge=other, by=manager)
    merge_customers(keep=make_customer("Elsewhere"), merge=keep, by=manager)
    with pytest.raises(Refused, match="undo that first"):
        undo_merge(merge=first, by=manager)
    assert Merge.objects.get(pk=first.pk).undone_at is None


def test_agents_may_not_merge_and_nobody_merges_what_they_cannot_see(client, agent_in_service_queue, manager):
    keep, other = _two_of_one_person()
    client.force_login(agent_in_service_queue)
    assert client.post(f"/customers/{keep.pk}/merge", {"other": other.pk}).status_code == 403
    assert client.get("/customers/duplicates").status_code == 403
    hidden = make_customer("Nobody sees me")
    client.force_login(manager)
    refused = client.get(f"/customers/{keep.pk}/merge", {"other": 999999}, follow=True).content.decode()
    assert "There is no customer &#x27;999999&#x27;" in refused
    refused = client.get(f"/customers/{keep.pk}/merge", {"other": f" # {keep.pk} "}, follow=True).content.decode()
    assert "That is this customer" in refused
    assert client.get(f"/customers/{keep.pk}/merge", {"other": hidden.pk}).status_code == 200  # managers see all
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_the_merge_page_asks_first_and_shows_both(manager_client):
    keep, other = _two_of_one_person()
    page = manager_client.get(f"/customers/{keep.pk}/merge", {"other": f"#{other.pk}"}).content.decode()
    assert f"Merge #{other.pk} into #{keep.pk}?" in page and "CRM-7" in page
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_likely_duplicates_by_email_phone_handle_and_similar_name(manager_client, manager):
    a = make_customer("Ann Lee", email="Ann@Example.com")
    b = make_customer("A. Lee", email="ann@example.com")
    c = make_customer("Carl", phone="+15550100")
    d = make_customer("Carl B", phone="+15550100")
    e, f = make_customer("Eve Polastri"), make_customer("Eve Polastri")
    Identity.objects.create(customer=e, network=Network.X, external_id="1", handle="@eve_polastri")
    Identity.objects.create(customer=f, network=Network.INSTAGRAM, external_id="2", handle="evepolastri1")
    g, h = make_customer("Gil"), make_customer("Hal")
    Identity.objects.create(customer=g, network=Network.X, external_id="3", handle="samehandle")
    Identity.objects.create(customer=h, network=Network.FACEBOOK, external_id="4", handle="SameHandle")
    make_customer("John Smith"), make_customer("John Smith")  # a common name alone is not evidence

    pairs = {(p.first.pk, p.second.pk): p.reasons for p in likely_duplicates(manager)}

    assert set(pairs) == {(a.pk, b.pk), (c.pk, d.pk), (e.pk, f.pk), (g.pk, h.pk)}
    assert pairs[(a.pk, b.pk)] == ("same e-mail ann@example.com",)
    assert "similar handles" in pairs[(e.pk, f.pk)][0]
    assert next(iter(pairs)) == (a.pk, b.pk)  # strongest evidence first

    manager_client.post("/customers/duplicates/not-duplicate", {"ids": [b.pk, a.pk]})
    page = manager_client.get("/customers/duplicates").content.decode()
    assert f"?other={b.pk}" not in page and f"?other={d.pk}" in page
    merge_customers(keep=c, merge=d, by=manager)
    assert (c.pk, d.pk) not in {(p.first.pk, p.second.pk) for p in likely_duplicates(manager)}


def test_a_merged_customer_is_found_by_new_mentions_through_its_identity(manager):
    keep, other = _two_of_one_person()
    merge_customers(keep=keep, merge=other, by=manager)
    from customers.services import resolve_authors
    from inbox.mentions import IncomingAuthor

    identities = resolve_authors(
        network=Network.EMAIL, authors=[IncomingAuthor(external_id=f"author-{other.pk}", email="dana@example.com")]
    )
    assert next(iter(identities.values())).customer_id == keep.pk


def test_undo_leaves_the_kept_customers_own_conversation_where_the_other_wrote_too(manager):
    keep, other = _two_of_one_person()
    own = Conversation.objects.get(customer=keep)
    other_identity = Identity.objects.get(customer=other)
    Message.objects.create(
        channel=own.channel, conversation=own, external_id="cameo", author=other_identity, text="me too",
        posted_at=own.created_at,
    )  # fmt: skip
    merge = merge_customers(keep=keep, merge=other, by=manager)

    undo_merge(merge=merge, by=manager)

    assert Conversation.objects.get(pk=own.pk).customer == keep
    assert Conversation.objects.filter(customer=other).count() == 1


def test_merging_is_for_supervisors_even_if_an_agent_is_given_the_permission(client, agent_in_service_queue):
    from django.contrib.auth.models import Permission

    keep, other = _two_of_one_person()
    agent_in_service_queue.user_permissions.add(Permission.objects.get(codename="merge_customer"))
    client.force_login(agent_in_service_queue)

    assert client.get("/customers/duplicates").status_code == 403
    assert client.post("/customers/duplicates/not-duplicate", {"ids": [keep.pk, other.pk]}).status_code == 403
    assert client.post(f"/customers/{keep.pk}/merge", {"other": other.pk}).status_code == 403
    assert "Likely duplicates" not in client.get("/customers/?q=scully").content.decode()


@pytest.mark.parametrize("value", ["²", "9" * 30, "-1", ""])
def test_odd_ids_are_refused_cleanly(manager_client, value):
    keep, _ = _two_of_one_person()
    assert manager_client.post("/customers/duplicates/not-duplicate", {"ids": [keep.pk, value]}).status_code == 400
    assert manager_client.get("/customers/", {"q": value}).status_code == 200
    listed = manager_client.get("/inbox/", {"queue": "service", "assignee": value})
    assert listed.status_code == (200 if value == "" else 400)  # empty is "anyone"; the rest are no one's id


def test_a_merged_customer_takes_no_new_notes_or_tags(manager_client, manager):
    keep, other = _two_of_one_person()
    merge_customers(keep=keep, merge=other, by=manager)

    page = manager_client.post(f"/customers/{other.pk}/notes", {"text": "lost?"}, follow=True).content.decode()
    assert "was merged into customer" in page
    manager_client.post(f"/customers/{other.pk}/tags", {"tags": "lost"})
    other.refresh_from_db()
    assert "lost" not in other.tags and not CustomerNote.objects.filter(customer=other).exists()


def test_a_conversation_stored_while_its_customer_was_being_merged_follows_the_merge(manager, monkeypatch):
    """Ingest read the identity before the merge committed; the conversation still lands on the kept customer."""
    from inbox.mentions import IncomingAuthor, IncomingMention
    from inbox.services import ingest as inbox_ingest

    keep, other = _two_of_one_person()
    stale = {identity.external_id: identity for identity in Identity.objects.filter(customer=other)}
    merge_customers(keep=keep, merge=other, by=manager)
    monkeypatch.setattr(inbox_ingest, "resolve_authors", lambda network, authors: stale)
    channel = Conversation.objects.filter(channel__slug="mail").first().channel
    author = next(iter(stale))

    inbox_ingest.ingest(
        channel=channel, mentions=[IncomingMention(external_id="late", text="hello?", author=IncomingAuthor(author))]
    )

    assert Message.objects.get(external_id="late").conversation.customer == keep


def test_the_merge_review_aligns_the_two_records_and_shows_the_kept_one_after(manager_client):
    on_x, by_mail = _two_of_one_person()

    page = manager_client.get(f"/customers/{on_x.pk}/merge?other={by_mail.pk}").content.decode()

    rows = {row.split("</th>")[0]: row.split("</tr>")[0] for row in page.split('<th scope="row">')[1:]}
    cells = lambda what: [cell.split("</td>")[0].strip() for cell in rows[what].split("<td>")[1:]]  # noqa: E731
    assert cells("Phone") == ["—", "+447700900123", "+447700900123"]  # taken where the kept one has none
    assert cells("Name") == ["Dana Scully", "D. Scully", "Dana Scully"]  # its own kept
    assert cells("Tier") == ["Plus", "VIP", "VIP"]  # the larger
    assert cells("Tags") == ["fibre", "Fibre, late payer", "fibre, late payer"]  # joined, case aside
    assert cells("Conversations") == ["1", "1", "2"]


def test_three_records_of_one_person_are_one_group_to_review(manager_client, manager):
    a = make_customer("Ann Lee", email="ann@example.com")
    b = make_customer("A. Lee", email="ANN@example.com", phone="+15550100")
    c = make_customer("Annie", phone="+15550100")
    make_customer("Carl", phone="+15550199"), make_customer("Carl B", phone="+15550199")

    page = manager_client.get("/customers/duplicates").content.decode()

    groups = page.split('<section class="duplicate-group"')[1:]
    assert len(groups) == 2
    (three,) = [group for group in groups if "3 records of one person?" in group]
    assert all(f"#{person.pk}</span>" in three for person in (a, b, c))
    assert three.count(">Review merge<") == 2  # a-b by e-mail, b-c by phone
