"""With the inbox open, a mention ingested through the API appears without a reload, and a colleague's work shows.

Then the page the pushed events built equals a fresh load of the same page.
"""

import httpx
import pytest

from inbox import live
from inbox.models import Channel
from inbox.services.conversations import add_note, assign_conversation, change_priority, change_status
from inbox.services.replies import reply
from inbox.tokens import issue_token
from tests.browser.conftest import wait_until
from tests.factories import ensure_migrated_data, make_conversation, make_customer, make_user
from triage.models import Queue


@pytest.fixture
def live_inbox(asgi_server):
    ensure_migrated_data()
    sam = make_user("sam", role="agent", queues=("service",))
    tom = make_user("tom", role="agent", queues=("service",))
    channel = Channel.objects.create(
        slug="hook",
        name="Hook",
        kind=Channel.Kind.WEBHOOK,
        network="web",
        default_queue=Queue.objects.get(slug="service"),
    )
    existing = make_conversation("service", text="Router lights blinking orange", customer=make_customer("Dana"))
    return {"base": asgi_server, "token": issue_token(channel), "sam": sam, "tom": tom, "existing": existing}


def rows(page) -> list[str]:
    return page.eval_on_selector_all("#conversation-list li.row", "items => items.map(li => li.id)")


def counts(page) -> dict[str, str]:
    return dict(page.eval_on_selector_all("#queue-nav .count[id]", "items => items.map(c => [c.id, c.textContent])"))


def open_live(page, url):
    page.goto(url)
    wait_until(page, "document.body.dataset.live === 'connected'")
    page.evaluate("window.notReloaded = true")


def test_a_mention_arrives_and_a_colleagues_assignment_shows_without_a_reload(signed_in, live_inbox):
    base = live_inbox["base"]
    page = signed_in(live_inbox["sam"])
    open_live(page, "/inbox/")

    response = httpx.post(
        f"{base}/api/v1/channels/hook/mentions",
        json={
            "external_id": "live-1",
            "text": "Still no signal in Leeds",
            "author": {"external_id": "a1", "name": "Lee"},
        },
        headers={"Authorization": f"Bearer {live_inbox['token']}"},
        timeout=10,
    )
    assert response.status_code == 202
    # The server says it belongs to this list; it waits behind a button, so nothing moves under the pointer.
    page.locator("#live-new button", has_text="1 new — show").wait_for()
    assert rows(page) == [f"conversation-{live_inbox['existing'].pk}"]
    page.locator("#live-new button").click()
    page.locator("#conversation-list", has_text="Still no signal in Leeds").wait_for()
    assert page.locator("#live-new").is_hidden()
    assert page.evaluate("document.activeElement.closest('li.row')?.id") == rows(page)[0]  # j/k go on from there

    assign_conversation(conversation=live_inbox["existing"], agent=live_inbox["tom"], by=live_inbox["tom"])
    row = page.locator(f"#conversation-{live_inbox['existing'].pk}")
    row.locator(".assignee", has_text="tom").wait_for()
    assert page.evaluate("window.notReloaded") is True  # the same page all along
    assert page.title() == "Inbox · socialcrm"
    page.locator("#count-service-open", has_text="1").wait_for()  # the counts are pushed too
    assert page.inner_text("#live-status") == "● Live"

    # The page the events built lists what a fresh load lists, in the same order, with the same counts.
    live_rows = rows(page)
    fresh = page.context.new_page()
    fresh.goto("/inbox/?queue=service")
    assert rows(fresh) == live_rows and len(live_rows) == 2
    assert counts(page) == counts(fresh)
    assert counts(fresh)["count-service-new"].startswith("1")  # the mention; Dana's, taken by Tom, is open
    assert not page.errors, page.errors


def test_the_mine_tab_follows_a_colleagues_assignment_and_resolution(signed_in, live_inbox):
    sam, tom, existing = live_inbox["sam"], live_inbox["tom"], live_inbox["existing"]
    page = signed_in(sam)
    open_live(page, "/inbox/?queue=service&status=mine")
    assert rows(page) == []

    assign_conversation(conversation=existing, agent=sam, by=tom)  # Tom hands Dana's conversation to Sam
    page.locator(f"#conversation-{existing.pk}").wait_for()  # an empty list is drawn at once: nothing to jump
    page.locator("#count-service-mine", has_text="1").wait_for()
    fresh = signed_in(sam)
    fresh.goto("/inbox/?queue=service&status=mine")
    assert rows(page) == rows(fresh) == [f"conversation-{existing.pk}"]
    assert counts(page) == counts(fresh)

    change_status(conversation=existing, status="resolved", by=tom)
    page.locator(f"#conversation-{existing.pk}").wait_for(state="detached")
    page.locator("#count-service-mine", has_text="0").wait_for()
    fresh.goto("/inbox/?queue=service&status=mine")
    assert rows(page) == rows(fresh) == []
    assert counts(page) == counts(fresh)
    assert page.evaluate("window.notReloaded") is True
    assert not page.errors, page.errors


def test_colleagues_on_the_same_conversation_see_each_other_and_each_others_work(signed_in, live_inbox):
    sam, tom, existing = live_inbox["sam"], live_inbox["tom"], live_inbox["existing"]
    url = f"/inbox/conversations/{existing.pk}/?queue=service"
    sams, toms = signed_in(sam), signed_in(tom)
    open_live(sams, url)
    open_live(toms, url)
    presence = sams.locator(f"#presence-{existing.pk}")
    presence.filter(has_text="tom is viewing").wait_for()
    sams.locator(f"[data-presence='{existing.pk}']", has_text="tom").wait_for()  # on the list row too

    toms.locator("#conversation-pane textarea[name=text]").first.press_sequentially("Hello Dana")
    presence.filter(has_text="tom is typing a reply").wait_for()
    toms.locator("#conversation-pane .note-form:not(.reply-form) textarea").fill("Calling her now")
    toms.get_by_role("button", name="Add note").click()  # sent: no longer "typing", at once
    presence.filter(has_text="tom is viewing").wait_for(timeout=3000)
    wait_until(toms, "document.querySelector('#conversation-pane .reply-form textarea').value === 'Hello Dana'")
    sams.wait_for_timeout(1000)
    assert "typing" not in presence.inner_text()  # putting the draft back is not typing

    add_note(conversation=existing, author=tom, text="Checked the line: fault on the exchange")
    sams.locator("#conversation-pane", has_text="fault on the exchange").wait_for()  # Sam wasn't writing

    toms.context.close()  # Tom's browser goes away: his socket's last word takes him off
    sams.locator(f"#presence-{existing.pk}:not(:has-text('tom'))").wait_for()
    assert sams.evaluate("window.notReloaded") is True
    assert not sams.errors, sams.errors


# The window is in the background, notifications were allowed, and the sound is counted, not played.
BACKGROUND_TAB = """
document.hasFocus = () => false;
window.notified = [];
window.Notification = class { constructor(title, options) { window.notified.push([title, options.body]); } };
window.Notification.permission = "granted";
window.beeps = 0;
window.AudioContext = class {
  constructor() { this.currentTime = 0; this.destination = {}; }
  createOscillator() { return { frequency: {}, connect: (node) => node, start() { window.beeps += 1; }, stop() {} }; }
  createGain() { return { gain: {}, connect: (node) => node }; }
};
"""


def test_urgent_arrivals_and_mentions_get_attention_whatever_the_page_shows(signed_in, live_inbox):
    sam, tom = live_inbox["sam"], live_inbox["tom"]
    page = signed_in(sam)
    page.add_init_script(BACKGROUND_TAB)
    open_live(page, "/inbox/?queue=service&status=resolved")  # urgent arrivals are not on this tab

    urgent = make_conversation("service", text="Outage across Leeds", priority=3, customer=make_customer("Ola"))
    live.publish([urgent.pk])
    wait_until(page, "document.title === '(1) Inbox · socialcrm'")
    assert page.evaluate("window.notified") == [["Urgent conversation", "Ola: Outage across Leeds"]]
    assert page.evaluate("window.beeps") == 1

    live.publish([urgent.pk])  # the same conversation changing again does not ring again
    normal = make_conversation("service", text="When do you open?", priority=1)
    live.publish([normal.pk])  # nor does an ordinary arrival
    page.locator("#sound-toggle").uncheck()  # and the agent turns the sound off
    add_note(conversation=urgent, author=tom, text="@sam can you call Ola?")
    wait_until(page, "document.title === '(2) Inbox · socialcrm'")
    assert page.evaluate("window.notified")[1][0] == "You were mentioned"
    assert page.evaluate("window.beeps") == 1
    notes = page.locator("#live-notes li")
    assert notes.count() == 2 and "You were mentioned" in notes.first.inner_text()  # in the page too
    assert notes.nth(1).locator("a").get_attribute("href") == f"/inbox/conversations/{urgent.pk}/"
    page.reload()
    assert page.locator("#sound-toggle").is_checked() is False  # remembered
    assert not page.errors, page.errors


KEEP_SOCKETS = """
window.sockets = [];
const Native = WebSocket;
window.WebSocket = class extends Native { constructor(...args) { super(...args); window.sockets.push(this); } };
"""


def test_a_lost_event_or_a_dropped_socket_is_caught_up(signed_in, live_inbox):
    """The channel layer may drop an event, and a socket may drop: either way the page catches up."""
    page = signed_in(live_inbox["sam"])
    page.add_init_script(
        "window.sockets = []; const Native = WebSocket; "
        "window.WebSocket = class extends Native { constructor(...a) { super(...a); sockets.push(this); } };"
    )
    open_live(page, "/inbox/?queue=service")
    service = live_inbox["existing"].queue

    make_conversation("service", text="Lost on the way", customer=make_customer("Lou"))
    live.next_seq(live.queue_group(service.pk))  # its event was numbered, then dropped by the layer
    later = make_conversation("service", text="Arrived after", customer=make_customer("Al"))
    live.publish([later.pk])  # the next event shows the gap
    page.locator("#conversation-list", has_text="Lost on the way").wait_for()

    page.evaluate("window.sockets.at(-1).close(4000)")  # the socket drops (a proxy, a network change)
    page.locator("#live-status", has_text="Reconnecting").wait_for()
    missed = make_conversation("service", text="Sent while away", customer=make_customer("Mo"))
    live.publish([missed.pk])
    page.locator("#live-status", has_text="Live").wait_for()
    page.locator("#conversation-list", has_text="Sent while away").wait_for()  # the hello showed the miss

    fresh = signed_in(live_inbox["sam"])
    fresh.goto("/inbox/?queue=service")
    assert rows(page) == rows(fresh) and len(rows(page)) == 4
    assert counts(page) == counts(fresh)
    assert page.evaluate("window.notReloaded") is True
    assert not page.errors, page.errors


def test_a_frame_the_server_refuses_reconnects_once_then_stops_and_says_so(signed_in, live_inbox):
    """A bad frame is a bug in the page: one fresh socket is harmless, a loop of them is not."""
    page = signed_in(live_inbox["sam"])
    page.add_init_script(
        "window.sockets = []; const Native = WebSocket; "
        "window.WebSocket = class extends Native { constructor(...a) { super(...a); sockets.push(this); } };"
    )
    open_live(page, "/inbox/?queue=service")

    page.evaluate("window.sockets.at(-1).send(new Uint8Array([0, 1]))")  # closed with 4003
    wait_until(page, "window.sockets.length === 2 && window.sockets[1].readyState === WebSocket.OPEN")
    page.locator("#live-status", has_text="Live").wait_for()
    page.evaluate("window.sockets.at(-1).send('not json')")  # closed with 4007, again within minutes
    page.locator("#live-status", has_text="Live stopped").wait_for()
    page.wait_for_timeout(3500)  # longer than the jittered reconnect
    assert page.evaluate("window.sockets.length") == 2
    assert page.evaluate("document.body.dataset.live") == "stopped"
    assert not page.errors, page.errors


def test_a_socket_that_comes_back_after_the_session_ended_says_signed_out_and_stops(signed_in, live_inbox):
    """The server tells a socket without a session so by code (4401), not by a refused handshake the
    browser could not tell from a network error and would retry for ever."""
    from django.contrib.sessions.models import Session

    page = signed_in(live_inbox["sam"])
    page.add_init_script(
        "window.sockets = []; const Native = WebSocket; "
        "window.WebSocket = class extends Native { constructor(...a) { super(...a); sockets.push(this); } };"
    )
    open_live(page, "/inbox/?queue=service")
    (cookie,) = [c["value"] for c in page.context.cookies() if c["name"] == "sessionid"]
    Session.objects.filter(session_key=cookie).delete()  # expired, or removed by an admin

    page.evaluate("window.sockets.at(-1).close(4000)")  # the socket drops (a proxy, a network change)
    page.locator("#signed-out", has_text="signed out").wait_for()
    assert page.inner_text("#live-status") == "○ Signed out"
    page.wait_for_timeout(3500)  # longer than the jittered reconnect
    assert page.evaluate("window.sockets.length") == 2
    assert not page.errors, page.errors


def test_a_new_password_ends_the_live_inbox_and_says_so_and_the_draft_is_kept(signed_in, live_inbox):
    sam, existing = live_inbox["sam"], live_inbox["existing"]
    page = signed_in(sam)
    open_live(page, f"/inbox/conversations/{existing.pk}/?queue=service")
    reply = page.locator("#conversation-pane .reply-form textarea")
    reply.fill("Dana, an engineer is on the way")
    sam.set_password("a new password, elsewhere")
    sam.save()
    page.locator("#signed-out", has_text="signed out").wait_for()
    assert page.inner_text("#live-status") == "○ Signed out"

    page.get_by_role("button", name="Send reply").click()  # answered by the sign-in page: nothing swapped
    page.wait_for_timeout(1000)
    assert reply.input_value() == "Dana, an engineer is on the way"
    assert page.locator("#conversation-pane form[action*=login]").count() == 0
    assert page.evaluate("document.body.dataset.live") == "signed-out"  # and no retrying with the old session

    page.reload()  # signed out, the page is the sign-in form; the draft waits in this tab
    assert "draft" in page.evaluate("JSON.stringify(Object.keys(sessionStorage))")


def test_unassigning_yourself_keeps_the_row_you_still_see_through_your_queue(signed_in, live_inbox):
    sam, existing = live_inbox["sam"], live_inbox["existing"]
    page = signed_in(sam)
    open_live(page, "/inbox/?queue=service")
    assign_conversation(conversation=existing, agent=sam, by=sam)
    page.locator(f"#conversation-{existing.pk} .assignee", has_text="sam").wait_for()
    assign_conversation(conversation=existing, agent=None, by=sam)  # a row on the queue, a "gone" on his own
    page.locator(f"#conversation-{existing.pk} .assignee", has_text="sam").wait_for(state="detached")
    page.wait_for_timeout(500)
    assert f"conversation-{existing.pk}" in rows(page)
    assert not page.errors, page.errors


def test_keyboard_focus_stays_on_a_row_that_changes_live(signed_in, live_inbox):
    existing = live_inbox["existing"]
    page = signed_in(live_inbox["sam"])
    open_live(page, "/inbox/?queue=service")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.closest('li').id") == f"conversation-{existing.pk}"
    change_priority(conversation=existing, priority=3, by=live_inbox["tom"])
    page.locator(f"#conversation-{existing.pk} .tag-priority-3").wait_for()
    assert page.evaluate("document.activeElement.closest('li')?.id") == f"conversation-{existing.pk}"
    assert not page.errors, page.errors


def test_a_row_changes_in_place_keeps_its_bulk_choice_and_leaves_when_it_leaves_the_tab(signed_in, live_inbox):
    existing, tom = live_inbox["existing"], live_inbox["tom"]
    other = make_conversation("service", text="Bill is wrong", customer=make_customer("Bo"))
    page = signed_in(live_inbox["sam"])
    open_live(page, "/inbox/?queue=service")
    before = rows(page)
    page.locator(f"#conversation-{existing.pk} input.pick").check()

    change_priority(conversation=existing, priority=3, by=tom)  # it would sort first on a reload
    page.locator(f"#conversation-{existing.pk} .tag-priority-3").wait_for()
    assert rows(page) == before  # changed in place: nothing jumps under the pointer
    assert page.locator(f"#conversation-{existing.pk} input.pick").is_checked()

    change_status(conversation=other, status="resolved", by=tom)  # no longer on the New & open tab
    page.locator(f"#conversation-{other.pk}").wait_for(state="detached")
    assert rows(page) == [f"conversation-{existing.pk}"]
    assert page.locator("#live-new").is_hidden()
    assert page.evaluate("window.notReloaded") is True
    assert not page.errors, page.errors


def test_a_row_that_belongs_further_down_is_counted_by_show_more(signed_in, live_inbox):
    for n in range(31):  # more urgent than anything new: the first page is full of them
        make_conversation("service", text=f"Urgent {n}", priority=3, status="open")
    page = signed_in(live_inbox["sam"])
    open_live(page, "/inbox/?queue=service")
    low = make_conversation("service", text="A question, no hurry", priority=0)
    live.publish([low.pk])
    page.locator("#more-rows", has_text="1 new or changed further down").wait_for()
    assert f"conversation-{low.pk}" not in rows(page)
    page.get_by_role("link", name="Show more").click()
    page.locator(f"#conversation-{low.pk}").wait_for()
    assert not page.errors, page.errors


def test_replying_after_a_colleague_asks_to_confirm_with_the_draft_counted_and_in_focus(signed_in, live_inbox):
    sam, tom, existing = live_inbox["sam"], live_inbox["tom"], live_inbox["existing"]
    page = signed_in(sam)
    open_live(page, f"/inbox/conversations/{existing.pk}/?queue=service")
    box = page.locator("#conversation-pane .reply-form textarea")
    box.fill("Dana, we are on it")
    reply(conversation=existing, text="Tom here: engineer booked", private=False, by=tom)
    page.locator(".live-changed").wait_for()  # she is writing: told, not redrawn under her
    page.get_by_role("button", name="Send reply").click()
    page.locator("#conversation-pane", has_text="tom replied since you opened this conversation").wait_for()
    assert box.input_value() == "Dana, we are on it"
    assert page.evaluate("document.activeElement.name") == "text"
    assert "262 characters left" in page.locator("#conversation-pane .counter").inner_text()  # web: 280
    page.get_by_role("button", name="Send anyway").click()
    page.locator("#conversation-pane .reply-form textarea").wait_for()
    wait_until(page, "!document.querySelector('#conversation-pane .reply-form textarea').value")
    assert not page.errors, page.errors
