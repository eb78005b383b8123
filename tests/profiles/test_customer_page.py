"""The whole customer: page, timeline across channels and records, notes, tags, search; behind the same door."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import CustomerRecord, Identity, Network
from inbox.models import Event, Message
from tests.factories import make_channel, make_conversation, make_customer, make_user
from triage.models import TriageDecision

pytestmark = pytest.mark.django_db


def _record(customer, title, *, at=None, **fields):
    return CustomerRecord.objects.create(
        customer=customer,
        kind=fields.pop("kind", CustomerRecord.Kind.ORDER),
        source="shop",
        title=title,
        occurred_at=at or timezone.now(),
        **fields,
    )


def test_the_page_shows_every_identity_channel_and_record_the_agent_may_see(agent_client):
    dana = make_customer("Dana Scully", email="dana@example.com", tier="vip")
    make_conversation("service", customer=dana, text="My router blinks red")
    email = make_channel("mail", network=Network.EMAIL, kind="email")
    make_conversation("service", customer=dana, channel=email, text="Following up by e-mail")
    make_conversation("sales", customer=dana, text="Secret sales talk")  # another team's
    _record(dana, "Order 1001: Fibre 500", amount=49)

    page = agent_client.get(f"/customers/{dana.pk}/").content.decode()

    assert "My router blinks red" in page and "Following up by e-mail" in page
    assert "Order 1001: Fibre 500" in page and "VIP" in page
    assert "Secret sales talk" not in page
    assert page.count('class="network network-x"') >= 1 and "E-mail" in page


def test_an_agent_cannot_open_a_customer_they_have_no_conversation_with(client):
    outsider = make_user("otto", role="agent", queues=("sales",))
    dana = make_customer("Dana")
    make_conversation("service", customer=dana)
    client.force_login(outsider)

    assert client.get(f"/customers/{dana.pk}/").status_code == 404
    assert client.post(f"/customers/{dana.pk}/notes", {"text": "hi"}).status_code == 404
    assert client.post(f"/customers/{dana.pk}/tags", {"tags": "x"}).status_code == 404
    assert client.get("/customers/?q=Dana").content.decode().count(f"/customers/{dana.pk}/") == 0
    assert client.get("/customers/not-a-number/").status_code == 404


def test_the_timeline_pages_through_messages_and_records_newest_first_without_gaps(agent_client):
    dana = make_customer("Dana")
    conversation = make_conversation("service", customer=dana, text="message 0")
    now = timezone.now()
    same_moment = now - timedelta(days=1)
    for n in range(1, 40):
        Message.objects.create(
            channel=conversation.channel,
            conversation=conversation,
            external_id=f"t-{n}",
            text=f"message {n}",
            posted_at=same_moment if n % 3 == 0 else now - timedelta(hours=n),
        )
    for n in range(12):
        _record(dana, f"record {n}", at=same_moment if n % 2 else now - timedelta(hours=n * 3 + 1))

    seen, url = [], f"/customers/{dana.pk}/"
    headers = {"HX-Request": "true", "HX-Target": "timeline-more"}
    while url:
        page = agent_client.get(url, headers=headers if seen else {}).content.decode()
        seen += re.findall(r'<li class="entry [^"]*" id="((?:message|record)-\d+)"', page)
        more = page.split('hx-get="', 1)[1].split('"')[0] if 'id="timeline-more"' in page else ""
        url = more.replace("&amp;", "&")

    everything = {f"message-{pk}" for pk in Message.objects.values_list("pk", flat=True)}
    everything |= {f"record-{pk}" for pk in CustomerRecord.objects.values_list("pk", flat=True)}
    assert len(seen) == 52 and set(seen) == everything  # every message and record, once


def test_a_broken_timeline_cursor_is_a_clear_error(agent_client):
    dana = make_customer("Dana")
    make_conversation("service", customer=dana)
    more = agent_client.get(
        f"/customers/{dana.pk}/?before=12_nonsense_3", headers={"HX-Request": "true", "HX-Target": "timeline-more"}
    )
    assert more.status_code == 400 and "page link is broken" in more.content.decode()
    page = agent_client.get(f"/customers/{dana.pk}/?before=12_nonsense_3").content.decode()
    assert "page link is broken" in page and "My phone has no signal" in page  # the newest page instead


def test_notes_and_tags_are_kept_audited_and_escaped(agent_client, agent_in_service_queue):
    dana = make_customer("Dana")
    make_conversation("service", customer=dana)

    agent_client.post(f"/customers/{dana.pk}/notes", {"text": "<script>alert(1)</script> prefers e-mail"})
    agent_client.post(f"/customers/{dana.pk}/tags", {"tags": " churn risk, VIP ,vip,<b>x</b>"})
    page = agent_client.get(f"/customers/{dana.pk}/").content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt; prefers e-mail" in page and "<script>alert(1)" not in page
    dana.refresh_from_db()
    assert dana.tags == ["churn risk", "VIP", "<b>x</b>"]
    kinds = set(Event.objects.filter(customer=dana, actor=agent_in_service_queue).values_list("kind", flat=True))
    assert kinds == {Event.Kind.CUSTOMER_NOTE_ADDED, Event.Kind.CUSTOMER_CHANGED}


def test_empty_notes_and_oversized_tags_are_refused_and_change_nothing(agent_client):
    dana = make_customer("Dana", tags=["keep me"])
    make_conversation("service", customer=dana)

    page = agent_client.post(f"/customers/{dana.pk}/notes", {"text": "   "}, follow=True).content.decode()
    assert "the note is empty" in page
    response = agent_client.post(f"/customers/{dana.pk}/tags", {"tags": "keep me, " + "x" * 41})
    page = response.content.decode()
    assert response.status_code == 400 and "at most 40 characters" in page
    assert f'value="keep me, {"x" * 41}"' in page  # what was typed stays, to be fixed
    dana.refresh_from_db()
    assert dana.tags == ["keep me"] and not dana.notes.exists()


def test_sentiment_over_time_counts_triaged_messages_by_month(agent_client):
    dana = make_customer("Dana")
    conversation = make_conversation("service", customer=dana, text="awful")
    message = conversation.messages.get()
    TriageDecision.objects.create(
        message=message, message_type="complaint", sentiment="negative", sentiment_score=-0.8, explanation="x"
    )

    page = agent_client.get(f"/customers/{dana.pk}/").content.decode()

    assert 'id="sentiment-chart"' in page and '"negative": [1]' in page
    assert f'<th scope="row">{timezone.now():%b %Y}</th><td>0</td><td>0</td><td>1</td>' in page


def test_search_finds_customers_by_handle_email_phone_and_number(agent_client):
    dana = make_customer("Dana Scully", email="dana@example.com", phone="+447700900123")
    conversation = make_conversation("service", customer=dana)
    handle = Identity.objects.get(customer=dana).handle

    for query in (handle, "dana@example.com", "07700 900123", str(dana.pk), "scully"):
        page = agent_client.get("/customers/", {"q": query}).content.decode()
        assert f'href="/customers/{dana.pk}/"' in page, query
    assert conversation.customer_id == dana.pk


def test_the_inbox_sidebar_links_to_the_whole_customer(agent_client):
    conversation = make_conversation("service")
    page = agent_client.get(f"/inbox/conversations/{conversation.pk}/").content.decode()
    assert f'href="/customers/{conversation.customer_id}/"' in page
