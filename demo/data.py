"""The demo brand: Kestrel Mobile, a phone network whose customers talk about it everywhere.

`load_demo` builds it in one transaction from a fixed seed, so every run makes the same data and
a second run finds it there and adds nothing. All of it is synthetic and labelled as demo data.
"""

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, CustomerRecord, Identity, Network, Tier
from inbox.models import PAUSED_STATUSES, CannedReply, Channel, Conversation, Event, Label, Macro, Message, Note, Status
from inbox.services.conversations import SLA_FIELDS, STATUS_FIELDS, business_hours, refresh_sla, sla_targets
from inbox.services.triage import triage_messages
from reports.rollups import rebuild as rebuild_report_rollups
from socialcrm.accounts import mark_email_verified
from triage import sla
from triage.language import detect_language
from triage.models import MessageType, Priority, Queue, Sentiment

SEED = 20261123
BRAND = "Kestrel Mobile"

# username, password, role, queues, full name
DEMO_USERS = [
    ("agent", "agent", "agent", ["service", "sales"], "Alex Agent"),
    ("manager", "manager", "manager", ["service", "pr", "marketing", "sales", "product"], "Morgan Manager"),
    ("admin", "admin", "admin", [], "Ada Admin"),
    ("priya", "priya", "agent", ["pr", "marketing"], "Priya Shah"),
    ("tom", "tom", "agent", ["product", "service"], "Tom Okafor"),
]

# slug, name, connector kind, network, the queue new conversations start in
DEMO_CHANNELS = [
    ("kestrel-x", "@KestrelMobile on X", Channel.Kind.X, Network.X, "service"),
    ("kestrel-facebook", "Kestrel Mobile Facebook Page", Channel.Kind.FACEBOOK, Network.FACEBOOK, "service"),
    ("kestrel-instagram", "@kestrelmobile on Instagram", Channel.Kind.INSTAGRAM, Network.INSTAGRAM, "marketing"),
    ("support-email", "support@kestrel.example", Channel.Kind.EMAIL, Network.EMAIL, "service"),
    ("reviews", "Review sites", Channel.Kind.RSS, Network.REVIEWS, "service"),
    ("community", "Kestrel community forum", Channel.Kind.RSS, Network.FORUM, "product"),
]

FIRST_NAMES = [
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Isla",
    "Jonas",
    "Kofi",
    "Lena",
    "Marco",
    "Nadia",
    "Omar",
    "Paula",
    "Quinn",
    "Rosa",
    "Sami",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Aisha",
    "Bruno",
    "Carmen",
    "Diego",
    "Emma",
    "Felix",
    "Gita",
    "Hannah",
    "Ivan",
    "Julia",
    "Kai",
    "Leila",
]
LAST_NAMES = [
    "Adeyemi",
    "Brown",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Murphy",
    "Novak",
    "O'Brien",
    "Patel",
    "Quiroga",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zhou",
    "Kowalski",
    "Nakamura",
    "Okafor",
    "Lindqvist",
]

PRODUCTS = [
    "5G plan",
    "eSIM",
    "roaming pack",
    "Kestrel One bundle",
    "fibre broadband",
    "Pixel handset",
    "SIM-only deal",
]
PLACES = ["Leeds", "Bristol", "Glasgow", "Cardiff", "Manchester", "Belfast", "Norwich", "the M4"]

TEXTS = {
    MessageType.QUESTION: [
        "Does the {product} work in Spain, or do I need the roaming pack?",
        "How do I move my number to an eSIM? The app keeps asking for a code I never got.",
        "Is there a way to see my data usage for this month without calling?",
        "When does the {product} renew? Can't find the date anywhere in my account.",
        "Quick one: can I add a second line to my {product} and share the data?",
        "What's the PUK for a blocked SIM, and where do I find it?",
    ],
    MessageType.COMPLAINT: [
        "No signal in {place} for the third day running. I pay for 5G and get nothing. Sort it out.",
        "Charged twice for my {product} this month. Third time I'm asking. Where is my refund?",
        "Been on hold for 58 minutes. This is the worst customer service I have ever had.",
        "Your engineer never turned up for the {product} install. Took a day off work for nothing.",
        "Roaming charges of £74 for ONE day. Nobody told me. Absolutely disgraceful.",
        "The app logged me out and now says my account doesn't exist?! Fix this please",
    ],
    MessageType.COMPLIMENT: [
        "Shout out to the Kestrel team in {place}, sorted my phone in ten minutes. Brilliant service!",
        "Switched to the {product} last month and honestly the best decision. Fast and cheap.",
        "Thank you @KestrelMobile for the quick refund, really appreciated.",
        "Signal at the festival was perfect all weekend, well done Kestrel.",
    ],
    MessageType.FEEDBACK: [
        "Would love a dark mode in the Kestrel app, it's blinding at night.",
        "Idea: let us pause the {product} for a month when we travel instead of cancelling.",
        "The new usage screen is confusing, I preferred the old graph. Please bring it back.",
        "Please add Apple Watch support to the {product}, it's the only thing missing.",
    ],
    MessageType.LEAD: [
        "Thinking of moving my family of four over from another network. What's your best deal on the {product}?",
        "Do you do business plans? We need 25 lines for our office in {place}.",
        "Is the {product} still on offer? Ready to sign up today if so.",
        "How much would it cost to upgrade to the {product} with a new handset?",
    ],
    MessageType.OTHER: [
        "Anyone else watching the match tonight? Kestrel ad was on at half time lol",
        "Saw the Kestrel billboard in {place}, love the bird.",
        "Is it just me or does everyone's phone buzz at the same time on the train",
    ],
}

# Complaints that have reached, or are about to reach, the press: these go to PR.
PRESS_TEXTS = [
    "I'm a journalist at the {place} Evening Post writing about outages on Kestrel Mobile. Can someone comment?",
    "This thread about Kestrel's roaming charges now has 40k retweets. Are you going to respond publicly?",
    "Consumer rights reporter here: readers in {place} say Kestrel ignored their complaints for weeks. Statement?",
]

REPLIES = [
    "Hi {first}, sorry to hear this. I've looked into your account and raised it with the team; "
    "I'll update you here within the day.",
    "Thanks {first}! Could you send us a direct message with your account number so we can check?",
    "Hi {first}, good news: that's now sorted on our side. Let us know if anything else comes up.",
    "Thanks for the kind words, {first}! We'll pass them on to the team.",
]

NOTES = [
    "Checked billing: duplicate charge confirmed, refund requested in the billing system.",
    "Customer is a long-standing VIP; handle with care.",
    "@priya might want to look at this one, it's getting retweeted.",
    "Network team says mast maintenance in the area until Friday.",
]

# Where the demo's author meant each type to land; real triage then decides (see _triage).
QUEUE_FOR_TYPE = {
    MessageType.QUESTION: "service",
    MessageType.COMPLAINT: "service",
    MessageType.COMPLIMENT: "marketing",
    MessageType.FEEDBACK: "product",
    MessageType.LEAD: "sales",
    MessageType.OTHER: "marketing",
}
SENTIMENT_FOR_TYPE = {
    MessageType.QUESTION: Sentiment.NEUTRAL,
    MessageType.COMPLAINT: Sentiment.NEGATIVE,
    MessageType.COMPLIMENT: Sentiment.POSITIVE,
    MessageType.FEEDBACK: Sentiment.NEUTRAL,
    MessageType.LEAD: Sentiment.POSITIVE,
    MessageType.OTHER: Sentiment.NEUTRAL,
}
TYPE_WEIGHTS = {
    MessageType.QUESTION: 30,
    MessageType.COMPLAINT: 30,
    MessageType.COMPLIMENT: 12,
    MessageType.FEEDBACK: 10,
    MessageType.LEAD: 12,
    MessageType.OTHER: 6,
}
STATUS_WEIGHTS = {Status.NEW: 25, Status.OPEN: 25, Status.PENDING: 10, Status.SNOOZED: 5, Status.RESOLVED: 35}


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    customers: int
    conversations: int
    messages: int


def demo_is_loaded() -> bool:
    return Channel.objects.filter(slug=DEMO_CHANNELS[0][0]).exists()


def ensure_demo_users() -> list[str]:
    """Create the demo logins that do not exist yet; never reset a password someone changed."""
    User = get_user_model()
    groups = {group.name: group for group in Group.objects.all()}
    queues = {queue.slug: queue for queue in Queue.objects.all()}
    created = []
    for username, password, role, queue_slugs, full_name in DEMO_USERS:
        if User.objects.filter(username=username).exists():
            continue
        first, _, last = full_name.partition(" ")
        user = User.objects.create_user(
            username=username,
            password=password,
            email=f"{username}@kestrel.example",
            first_name=first,
            last_name=last,
            is_staff=role == "admin",
        )
        mark_email_verified(user)
        user.groups.set([groups[role]])
        user.queues.set([queues[slug] for slug in queue_slugs])
        created.append(username)
    return created


@transaction.atomic
def load_demo(*, customers: int = 200, conversations: int = 380) -> DemoSummary:
    """Build the demo brand unless it is there already. All or nothing."""
    ensure_demo_users()
    if demo_is_loaded():
        return DemoSummary(False, Customer.objects.count(), Conversation.objects.count(), Message.objects.count())
    rng = random.Random(SEED)
    now = timezone.now()
    queues = {queue.slug: queue for queue in Queue.objects.all()}
    channels = [
        Channel.objects.create(
            slug=slug,
            name=name,
            kind=kind,
            network=network,
            listening_keywords="kestrel",
            default_queue=queues[queue],
            config={"sandbox": True},  # a demo brand: replies are recorded, never sent to a real network
        )
        for slug, name, kind, network, queue in DEMO_CHANNELS
    ]
    _make_setup(queues)
    people = _make_customers(rng, customers, now)
    identities = _make_identities(rng, people)
    made = _make_conversations(rng, conversations, channels, identities, now)
    transaction.on_commit(rebuild_report_rollups)  # the demo's history, as the reports count it
    return DemoSummary(True, len(people), made[0], made[1])


DEMO_LABELS = (
    ("outage", "#dc2626"),
    ("refund", "#d97706"),
    ("billing", "#2563eb"),
    ("vip", "#7c3aed"),
    ("press", "#0f766e"),
    ("churn-risk", "#be123c"),
)
DEMO_CANNED = (  # shortcut, title, queue (None: every queue), body
    ("thanks", "Thank you", None,
     "Thank you, {{ customer.first_name }}! We'll pass that on to the team. {{ agent.first_name }}"),
    ("dm", "Ask for a private message", None,
     "Hi {{ customer.first_name }}, sorry about this. Could you send us a private message with your account number, "
     "so we can look into it? {{ agent.first_name }}"),
    ("outage", "Known outage", "service",
     "Hi {{ customer.first_name }}, there is a network fault in your area and our engineers are on it. "
     "We expect service back within four hours and will post updates here. {{ agent.first_name }}"),
    ("refund", "Refund on its way", "service",
     "Hi {{ customer.first_name }}, I've issued the refund: it reaches your account in 3-5 working days. "
     "Sorry for the trouble. {{ agent.first_name }}"),
    ("pricing", "Business pricing", "sales",
     "Hi {{ customer.first_name }}, thanks for thinking of us! A business adviser will call you today "
     "with pricing for your lines. {{ agent.first_name }}"),
    ("press", "Press office", "pr",
     "Hello {{ customer.name }}, thank you for getting in touch. Our press office will reply today "
     "at press@kestrel-mobile.example. {{ agent.first_name }}"),
)  # fmt: skip


def _make_setup(queues: dict) -> None:
    """What the demo's managers set up: labels, canned replies, and macros that use them."""
    labels = {name: Label.objects.get_or_create(name=name, defaults={"color": color})[0] for name, color in DEMO_LABELS}
    canned = {}
    for shortcut, title, queue, body in DEMO_CANNED:
        canned[shortcut] = CannedReply.objects.get_or_create(
            shortcut=shortcut, defaults={"title": title, "body": body, "queue": queues[queue] if queue else None}
        )[0]
    macros = (  # name, fields, labels added
        ("Refund on its way", {"reply": canned["refund"].body, "set_status": Macro.SetStatus.PENDING,
                               "queue": queues["service"]}, ["refund", "billing"]),
        ("Known outage", {"reply": canned["outage"].body, "set_priority": Priority.HIGH, "queue": queues["service"]},
         ["outage"]),
        ("Thank and resolve", {"reply": canned["thanks"].body, "set_status": Macro.SetStatus.RESOLVED}, []),
    )  # fmt: skip
    for name, fields, added in macros:
        macro, made = Macro.objects.get_or_create(name=name, defaults=fields)
        if made:
            macro.add_labels.set([labels[label] for label in added])


def _make_customers(rng: random.Random, count: int, now) -> list[Customer]:
    customers = []
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        tier = rng.choices(list(Tier), weights=[70, 18, 9, 3])[0]
        customers.append(
            Customer(
                name=f"{first} {last}",
                email=f"{first}.{last}{number}@mail.example".lower().replace("'", "") if rng.random() < 0.7 else "",
                phone=f"+4477009{number:05d}" if rng.random() < 0.4 else "",
                tier=tier,
                lifetime_value=Decimal(rng.randint(20, 400) * (1 + list(Tier).index(tier) * 3)),
                external_ref=f"KM-{100000 + number}",
                tags=rng.sample(
                    ["family plan", "business", "student", "churn risk", "early adopter"], k=rng.randint(0, 2)
                ),
                created_at=now - timedelta(days=rng.randint(30, 2000)),
            )
        )
    customers = Customer.objects.bulk_create(customers)
    records = []
    for customer in customers:
        for index in range(rng.randint(0, 3)):
            amount = Decimal(rng.randint(10, 90)) + Decimal("0.99")
            records.append(
                CustomerRecord(
                    customer=customer,
                    kind=rng.choice([CustomerRecord.Kind.ORDER, CustomerRecord.Kind.CALL, CustomerRecord.Kind.CASE]),
                    source="kestrel-crm",
                    external_ref=f"{customer.external_ref}-{index}",
                    title=rng.choice(
                        ["Monthly bill", "Handset upgrade", "Billing enquiry", "Network fault", "SIM swap"]
                    ),
                    status=rng.choice(["closed", "paid", "open"]),
                    amount=amount,
                    occurred_at=now - timedelta(days=rng.randint(1, 400)),
                )
            )
    CustomerRecord.objects.bulk_create(records)
    return customers


def _make_identities(rng: random.Random, customers: list[Customer]) -> dict[str, list[Identity]]:
    """Each customer on one to three networks; an e-mail identity where they gave an address."""
    social = [Network.X, Network.FACEBOOK, Network.INSTAGRAM, Network.REVIEWS, Network.FORUM]
    identities = []
    for customer in customers:
        handle_base = customer.name.lower().replace(" ", "_").replace("'", "")
        networks = rng.sample(social, k=rng.choices([1, 2, 3], weights=[45, 40, 15])[0])
        for network in networks:
            followers = int(rng.paretovariate(1.1) * 40) if rng.random() > 0.02 else rng.randint(150_000, 3_000_000)
            handle = f"@{handle_base}{rng.randint(1, 99)}" if network in {Network.X, Network.INSTAGRAM} else handle_base
            identities.append(
                Identity(
                    customer=customer,
                    network=network,
                    external_id=f"demo-{network}-{customer.external_ref}",
                    handle=handle,
                    display_name=customer.name,
                    followers=followers,
                    verified=followers > 100_000 and rng.random() < 0.7,
                    profile_url=f"https://{network}.example/{handle.lstrip('@')}",
                )
            )
        if customer.email:
            identities.append(
                Identity(customer=customer, network=Network.EMAIL, external_id=customer.email, handle=customer.email)
            )
    by_network: dict[str, list[Identity]] = {}
    for identity in Identity.objects.bulk_create(identities):
        by_network.setdefault(identity.network, []).append(identity)
    return by_network


def _make_conversations(rng, count, channels, identities, now) -> tuple[int, int]:
    User = get_user_model()
    queues = {queue.slug: queue for queue in Queue.objects.select_related("sla_policy", "calendar")}
    members = {slug: list(queue.members.all()) for slug, queue in queues.items()}
    conversations, threads = [], []
    for _ in range(count):
        channel = rng.choice(channels)
        author = rng.choice(identities[channel.network])
        message_type = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
        status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        queue = queues[QUEUE_FOR_TYPE[message_type]]
        sentiment = SENTIMENT_FOR_TYPE[message_type]
        influential = author.followers >= 50_000 or author.customer.tier in {Tier.PREMIUM, Tier.VIP}
        text = rng.choice(TEXTS[message_type]).format(product=rng.choice(PRODUCTS), place=rng.choice(PLACES))
        if message_type == MessageType.COMPLAINT and (author.followers >= 20_000 or rng.random() < 0.15):
            queue = queues["pr"]
            if author.followers < 20_000:
                text = rng.choice(PRESS_TEXTS).format(place=rng.choice(PLACES))
        priority = Priority.NORMAL
        if message_type == MessageType.COMPLAINT:
            priority = Priority.URGENT if influential else Priority.HIGH
        elif message_type in {MessageType.COMPLIMENT, MessageType.OTHER}:
            priority = Priority.LOW
        # Recent work is mostly still open; older work mostly resolved.
        age = (
            timedelta(minutes=rng.randint(5, 60 * 6))
            if status == Status.NEW
            else timedelta(hours=rng.randint(1, 24 * 14))
        )
        started = now - age
        inbound = rng.randint(1, 3)
        replies = 0 if status == Status.NEW else rng.randint(1, 2)
        assignee = None
        if status != Status.NEW and members[queue.slug] and rng.random() < 0.8:
            assignee = rng.choice(members[queue.slug])
        conversation = Conversation(
            customer=author.customer,
            channel=channel,
            status=Status.NEW,
            queue=queue,
            assignee=assignee,
            priority=priority,
            message_type=message_type,
            sentiment=sentiment,
            snippet=text[:200],
            subject=text[:80] if channel.network == Network.EMAIL else "",
            is_private=channel.network == Network.EMAIL or rng.random() < 0.25,
            created_at=started,
            awaiting_since=started,
            resolved_at=now if status == Status.RESOLVED else None,  # set from the thread below
            snoozed_until=now + timedelta(hours=rng.randint(2, 48)) if status == Status.SNOOZED else None,
        )
        refresh_sla(conversation)  # the clocks as they started; the thread below moves them on
        conversation.status = status
        conversations.append(conversation)
        threads.append((conversation, author, text, inbound, replies))

    Conversation.objects.bulk_create(conversations)
    agents = list(User.objects.filter(groups__name="agent"))
    messages, notes, events = [], [], []
    sequence = 0
    for conversation, author, text, inbound, replies in threads:
        first = conversation.customer.first_name or "there"
        turns = (["in"] + ["out", "in"] * replies)[: inbound + replies] if replies else ["in"] * inbound
        # Spread the turns between the start and now, in order, never in the future.
        span = (now - conversation.created_at).total_seconds()
        offsets = sorted(rng.uniform(0, span * 0.9) for _ in turns[1:])
        moments = [conversation.created_at] + [conversation.created_at + timedelta(seconds=o) for o in offsets]
        targets, hours = sla_targets(conversation), business_hours(conversation)
        waiting_since = None
        for turn, moment in zip(turns, moments, strict=True):
            sequence += 1
            if turn == "in":
                waiting_since = waiting_since or moment
                body = (
                    text
                    if moment == conversation.created_at
                    else rng.choice(
                        ["Any update on this?", "Still waiting...", "Thanks, that worked!", "DM sent.", text]
                    )
                )
                messages.append(
                    Message(
                        channel=conversation.channel,
                        conversation=conversation,
                        external_id=f"demo-{sequence}",
                        direction=Message.Direction.INBOUND,
                        is_private=conversation.is_private,
                        author=author,
                        text=body,
                        url=""
                        if conversation.is_private
                        else f"https://{conversation.channel.network}.example/post/{sequence}",
                        posted_at=moment,
                        triage_state=Message.TriageState.QUEUED,
                    )
                )
            else:
                # The wait this reply ended, as the reply service records it (for the reports).
                if conversation.first_response_at is None:
                    due = conversation.first_response_due_at
                else:
                    due = hours.due_at(waiting_since, targets.next_response) if targets.next_response else None
                answered = {
                    "answered_wait_since": waiting_since,
                    "answered_due_at": due,
                    "answered_business_seconds": sla.business_seconds(hours, waiting_since, moment, ()),
                }
                waiting_since = None
                conversation.first_response_at = conversation.first_response_at or moment
                messages.append(
                    Message(
                        channel=conversation.channel,
                        conversation=conversation,
                        external_id=f"demo-{sequence}",
                        direction=Message.Direction.OUTBOUND,
                        is_private=conversation.is_private,
                        sent_by=conversation.assignee or (rng.choice(agents) if agents else None),
                        text=rng.choice(REPLIES).format(first=first),
                        posted_at=moment,
                        delivery=Message.Delivery.SENT,
                        triage_state=Message.TriageState.SKIPPED,
                        delivery_attempts=1,
                        **answered,
                    )
                )
        conversation.last_message_at = moments[-1]
        if conversation.status == Status.RESOLVED:
            conversation.resolved_at = moments[-1] + (now - moments[-1]) * rng.uniform(0.05, 0.9)
        # The SLA clocks as the services would have left them (triage.sla): waiting since the customer's
        # latest unanswered message, paused since the last turn when pending, snoozed or resolved.
        last_out = max((i for i, turn in enumerate(turns) if turn == "out"), default=-1)
        conversation.awaiting_since = moments[last_out + 1] if last_out + 1 < len(turns) else None
        if conversation.status in PAUSED_STATUSES:
            paused_at = conversation.resolved_at or moments[-1]
            conversation.sla_pauses = [[paused_at.isoformat(), None]]
        refresh_sla(conversation)
        if rng.random() < 0.15 and agents:
            notes.append(
                Note(
                    conversation=conversation,
                    author=conversation.assignee or rng.choice(agents),
                    text=rng.choice(NOTES),
                )
            )
        events.append(
            Event(
                kind=Event.Kind.CONVERSATION_CREATED,
                conversation=conversation,
                customer=conversation.customer,
                data={"demo": True},
            )
        )
    for message in messages:
        message.language = detect_language(message.text)
    Message.objects.bulk_create(messages)
    Note.objects.bulk_create(notes)
    Event.objects.bulk_create(events)
    Conversation.objects.bulk_update(
        conversations, ["last_message_at", "first_response_at", "resolved_at", *STATUS_FIELDS, *SLA_FIELDS]
    )
    _triage(rng, [m.pk for m in messages if m.direction == Message.Direction.INBOUND], members)
    return len(conversations), len(messages)


def _triage(rng, message_ids: list[int], members: dict[str, list]) -> None:
    """Run the real triage on the demo's messages, so every decision and explanation shown is genuine."""

    for start in range(0, len(message_ids), 1000):
        triage_messages(message_ids=message_ids[start : start + 1000])
    # Triage may have chosen another queue than the demo meant: keep assignees within their queue.
    moved = []
    for conversation in Conversation.objects.filter(assignee__isnull=False).select_related("queue"):
        queue_members = members.get(conversation.queue.slug if conversation.queue else "", [])
        if conversation.assignee not in queue_members:
            conversation.assignee = rng.choice(queue_members) if queue_members else None
            moved.append(conversation)
    Conversation.objects.bulk_update(moved, ["assignee"])
