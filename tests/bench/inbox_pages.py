"""Inbox pages at scale: server time of the list, a conversation and a customer, at 10,000 and 1,000,000 messages.

    .venv/bin/python tests/bench/inbox_pages.py

Against PostgreSQL on this machine, in-process through Django's test client: the figures are Django's
and the database's time for a request, with no HTTP server or network in between. Targets: the inbox
list and a conversation page at p95 <= 50 ms, and the list's time grows by at most 1.5x from 10,000 to
1,000,000 messages (200,000 conversations, five messages each on average); a search of the service
queue's every status (a common word, a rare one, a misspelt name) at p95 <= 100 ms.

The data is written straight into the real tables with INSERT ... SELECT over generate_series, from
a deterministic hash of each row's number (so two runs build the same data): five queues, most
conversations resolved, some new, open, pending or snoozed, priorities 0-3, due times from each
queue's SLA, six channels on six networks, a triage decision on every inbound message. The small
size is built and measured, then grown to the large one and measured again.

`--skip-build` measures the bench database as it stands (to try an index by hand, then measure again).
"""

import argparse
import os
import random
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# A database of its own: other benchmarks use socialcrm_bench, and the test suite uses test.
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/socialcrm_bench_pages")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

from tests.bench import harness  # noqa: E402

SIZES = (2_000, 200_000)  # conversations; five messages each on average, exactly
CHUNK = 20_000  # conversations per transaction while building
REQUESTS = 200  # timed requests per kind
WARM_UP = 20
TARGET_MS = 50
SEARCH_TARGET_MS = 100  # a search of 1,000,000 messages, for a common word, a rare one and a name
GROWTH_LIMIT = 1.5
AGENT_QUEUES = ("service", "pr")
QUEUE_ORDER = ("service", "pr", "marketing", "sales", "product")  # with the shares the builder gives them below
CHANNELS = (  # slug, kind, network
    ("x-main", "x", "x"),
    ("facebook-page", "facebook", "facebook"),
    ("instagram", "instagram", "instagram"),
    ("support-mail", "email", "email"),
    ("reviews-feed", "rss", "reviews"),
    ("community-forum", "webhook", "forum"),
)
AGENTS = 10

FIRST_NAMES = "Dana Fox Maria Ahmed Li Sofia Tom Priya Jonas Aisha Pedro Yuki Emma Kwame Olga Rahul Zoe Ivan Nia Omar"
LAST_NAMES = "Scully Mulder Garcia Khan Wei Rossi Baker Patel Berg Bello Silva Sato Brown Mensah Ivanova Shah Quinn"
INBOUND_TEXTS = (
    "My phone has had no signal in Leeds since this morning, is there an outage? I work from home and need it.",
    "Third time I'm asking: where is my refund for order 4471? Nobody answers the e-mails.",
    "Loving the new app update, the dark mode is gorgeous. Great job, team!",
    "Can I upgrade my plan to the family bundle without a new contract? What would it cost per month?",
    "Your engineer missed the appointment again. I took a day off for nothing. Really disappointed.",
    "Would be great if the app let me split the bill between two cards. Any plans for that?",
    "Hi, how do I change the billing address on my account? The form keeps failing.",
    "Shoutout to Sam in the Manchester store who sorted my broken screen in 20 minutes.",
    "Is the 5G coverage map up to date? It says I have coverage but I only get 4G at home.",
    "Thinking of switching 40 company lines to you. Who can I talk to about business pricing?",
    "The router you sent keeps dropping the connection every hour. Already restarted it twice.",
    "Why was I charged twice this month? Two payments of 34.99 on the same day.",
)
# Searched for: "app" is in a quarter of the conversations; this sentence ends one inbound message in
# 2,000 ("lisbon" is in no other text); "Priya Patell" is a typo for one of the names the builder draws.
RARE_SENTENCE = " Roaming in Lisbon cost me 40 euros."
RARE_SHARE = 0.0005
SEARCHES = {"search: common word": "app", "search: rare word": "lisbon", "search: name": "Priya Patell"}
OUTBOUND_TEXTS = (
    "Sorry to hear that! Could you send us a private message with your postcode so we can check the network?",
    "Thanks for your patience. I've escalated this to our billing team and they'll be in touch within 24 hours.",
    "Thank you so much, we'll pass that on to the team!",
    "Happy to help: you can change plans any time in the app under Account > Plan, no new contract needed.",
    "I've booked a new appointment for Thursday morning and added a credit to your account for the missed one.",
)


def setup_django() -> None:
    os.environ.update({"DATABASE_URL": harness.DATABASE_URL, "REDIS_URL": harness.REDIS_URL, "DEBUG": "false"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialcrm.settings")
    # WhiteNoise warns once that collectstatic has not run; the pages measured here serve no files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    import django

    django.setup()


# --- Building the data ---

# Deterministic draws: a row number and a salt give a number in [0, 1). IMMUTABLE SQL functions are
# inlined by the planner, so they cost no more than writing the expression out.
FUNCTIONS = """
CREATE OR REPLACE FUNCTION bench_unit(n bigint, salt integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8(n * 64 + salt)::bigint & 2147483647) / 2147483648.0::double precision $$;

-- Messages in conversation n: 1 to 9, and each odd/even pair adds up to 10, so the average is exactly 5.
CREATE OR REPLACE FUNCTION bench_message_count(n bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN mod(n, 2) = 1 THEN 1 + floor(9 * bench_unit((n + 1) / 2, 6))::integer
                  ELSE 9 - floor(9 * bench_unit(n / 2, 6))::integer END $$;

-- The time between two messages of conversation n.
CREATE OR REPLACE FUNCTION bench_gap(n bigint) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT interval '20 minutes' + bench_unit(n, 9) * interval '4 hours' $$;
"""

CUSTOMERS = """
INSERT INTO customers_customer
    (id, name, email, phone, tier, lifetime_value, external_ref, tags, created_at, updated_at, merged_into_id)
SELECT c,
       (%(first)s::text[])[1 + floor(bench_unit(c, 10) * cardinality(%(first)s::text[]))::integer] || ' ' ||
       (%(last)s::text[])[1 + floor(bench_unit(c, 11) * cardinality(%(last)s::text[]))::integer],
       CASE WHEN bench_unit(c, 12) < 0.5 THEN 'customer' || c || '@example.com' ELSE '' END,
       CASE WHEN bench_unit(c, 13) < 0.3 THEN '+44770' || lpad(c::text, 7, '0') ELSE '' END,
       CASE WHEN bench_unit(c, 14) < 0.80 THEN 'standard' WHEN bench_unit(c, 14) < 0.92 THEN 'plus'
            WHEN bench_unit(c, 14) < 0.98 THEN 'premium' ELSE 'vip' END,
       round((power(bench_unit(c, 15), 3) * 20000)::numeric, 2),
       CASE WHEN bench_unit(c, 16) < 0.3 THEN 'shop-' || c ELSE '' END,
       '[]'::jsonb, now() - interval '2 years', now(), NULL
FROM generate_series(%(low)s::bigint, %(high)s::bigint) c
"""

# One identity per customer (its id is the customer's), on the network of the customer's home channel.
IDENTITIES = """
INSERT INTO customers_identity
    (id, customer_id, network, external_id, handle, display_name, followers, verified, profile_url,
     created_at, updated_at)
SELECT c, c, (%(networks)s::text[])[1 + mod(c, cardinality(%(networks)s::text[]))], 'bench-' || c,
       '@customer' || c, '', floor(power(10, 6 * power(bench_unit(c, 17), 3)))::bigint, bench_unit(c, 18) < 0.02, '',
       now() - interval '2 years', now()
FROM generate_series(%(low)s::bigint, %(high)s::bigint) c
"""

RECORDS = """
INSERT INTO customers_customerrecord
    (id, customer_id, kind, source, external_ref, title, status, amount, occurred_at, data, imported_at)
SELECT c * 2 + j, c, 'order', 'shop', 'order-' || (c * 2 + j), 'Order #' || (c * 2 + j), 'delivered',
       round((5 + 300 * bench_unit(c * 2 + j, 21))::numeric, 2),
       now() - bench_unit(c * 2 + j, 22) * interval '700 days', '{}'::jsonb, now()
FROM generate_series(%(low)s::bigint, %(high)s::bigint) c, generate_series(0, 1) j
WHERE bench_unit(c, 20) < 0.4
"""

# Shares: 82% resolved, 6% new, 6% open, 4% pending, 2% snoozed. Queues: service 40%, pr 10%,
# marketing 20%, sales 15%, product 14%, untriaged 1%. Customers are skewed: a few write often.
CONVERSATIONS = """
WITH drawn AS (
    SELECT n,
           1 + floor(%(customers)s * power(bench_unit(n, 4), 1.3))::bigint AS customer_id,
           CASE WHEN bench_unit(n, 1) < 0.06 THEN 'new' WHEN bench_unit(n, 1) < 0.12 THEN 'open'
                WHEN bench_unit(n, 1) < 0.16 THEN 'pending' WHEN bench_unit(n, 1) < 0.18 THEN 'snoozed'
                ELSE 'resolved' END AS status,
           CASE WHEN bench_unit(n, 2) < 0.40 THEN 1 WHEN bench_unit(n, 2) < 0.50 THEN 2
                WHEN bench_unit(n, 2) < 0.70 THEN 3 WHEN bench_unit(n, 2) < 0.85 THEN 4
                WHEN bench_unit(n, 2) < 0.99 THEN 5 END AS queue_index,
           CASE WHEN bench_unit(n, 3) < 0.20 THEN 0 WHEN bench_unit(n, 3) < 0.75 THEN 1
                WHEN bench_unit(n, 3) < 0.93 THEN 2 ELSE 3 END AS priority,
           bench_message_count(n) AS messages,
           bench_gap(n) AS gap
    FROM generate_series(%(low)s::bigint, %(high)s::bigint) n
), placed AS (
    SELECT drawn.*,
           CASE WHEN status = 'resolved'
                THEN now() - interval '2 days' - bench_unit(n, 5) * interval '365 days'
                ELSE now() - power(bench_unit(n, 5), 2) * interval '3 days' END AS created,
           CASE WHEN status = 'new' OR mod(messages, 2) = 1 THEN messages ELSE messages - 1 END AS last_inbound,
           CASE WHEN status = 'resolved' OR (status <> 'new' AND bench_unit(n, 7) < 0.7)
                  OR bench_unit(n, 7) < 0.1
                THEN (%(agents)s::integer[])[1 + mod(n, cardinality(%(agents)s::integer[]))] END AS assignee_id
    FROM drawn
), dated AS (
    SELECT placed.*,
           created + interval '1 minute' * (%(first_minutes)s::integer[])[queue_index]
                     * CASE WHEN priority = 3 THEN 0.5 ELSE 1.0 END::double precision AS first_due,
           created + interval '1 minute' * (%(resolution_minutes)s::integer[])[queue_index]
                     * CASE WHEN priority = 3 THEN 0.5 ELSE 1.0 END::double precision AS resolution_due,
           CASE WHEN status <> 'new' AND messages > 1 THEN created + gap END AS first_at
    FROM placed
)
INSERT INTO inbox_conversation
    (id, customer_id, channel_id, status, queue_id, assignee_id, priority, message_type, sentiment, subject,
     snippet, is_private, first_response_due_at, resolution_due_at, first_response_at, resolved_at,
     snoozed_until, last_message_at, created_at, updated_at, awaiting_since, sla_pauses, sla_due_at,
     sla_alerts_done)
SELECT n, customer_id, (%(channels)s::bigint[])[1 + mod(customer_id, cardinality(%(channels)s::bigint[]))], status,
       (%(queues)s::bigint[])[queue_index], assignee_id, priority,
       CASE WHEN bench_unit(n, 8) < 0.35 THEN 'question' WHEN bench_unit(n, 8) < 0.60 THEN 'complaint'
            WHEN bench_unit(n, 8) < 0.70 THEN 'compliment' WHEN bench_unit(n, 8) < 0.80 THEN 'feedback'
            WHEN bench_unit(n, 8) < 0.88 THEN 'lead' ELSE 'other' END,
       CASE WHEN bench_unit(n, 11) < 0.30 THEN 'negative' WHEN bench_unit(n, 11) < 0.75 THEN 'neutral'
            ELSE 'positive' END,
       '',
       left((%(inbound)s::text[])[1 + mod(n * 10 + last_inbound, cardinality(%(inbound)s::text[]))], 200),
       bench_unit(n, 12) < 0.2,
       first_due, resolution_due, first_at,
       CASE WHEN status = 'resolved' THEN created + (messages - 1) * gap + interval '1 hour' END,
       CASE WHEN status = 'snoozed' THEN now() + (1 + 47 * bench_unit(n, 13)) * interval '1 hour' END,
       created + (messages - 1) * gap, created, now(),
       CASE WHEN first_at IS NULL THEN created END,
       CASE WHEN status IN ('new', 'open') THEN '[]'::jsonb
            ELSE jsonb_build_array(jsonb_build_array(created + (messages - 1) * gap, NULL)) END,
       CASE WHEN status IN ('new', 'open') THEN
            CASE WHEN first_at IS NULL THEN least(first_due, resolution_due) ELSE resolution_due END END,
       0
FROM dated
"""

# Message i of conversation n has the id n * 10 + i. Inbound and outbound alternate, except that a
# new conversation has no reply yet. The inbound author is the customer's identity (same id).
MESSAGES = """
INSERT INTO inbox_message
    (id, channel_id, conversation_id, external_id, direction, is_private, author_id, sent_by_id, text, language,
     url, in_reply_to_external_id, posted_at, received_at, raw_payload, triage_state, processed_at, delivery,
     delivery_attempts, delivery_error)
SELECT c.id * 10 + i, c.channel_id, c.id, 'bench-' || (c.id * 10 + i), d.direction, c.is_private,
       CASE WHEN d.direction = 'in' THEN c.customer_id END,
       CASE WHEN d.direction = 'out' THEN coalesce(c.assignee_id, (%(agents)s::integer[])[1]) END,
       d.text, 'en', '', CASE WHEN i > 1 THEN 'bench-' || (c.id * 10 + i - 1) ELSE '' END,
       c.created_at + (i - 1) * bench_gap(c.id), c.created_at + (i - 1) * bench_gap(c.id) + interval '2 seconds',
       CASE WHEN d.direction = 'in' THEN jsonb_build_object(
           'id', 'bench-' || (c.id * 10 + i), 'text', d.text,
           'author', jsonb_build_object('id', 'bench-' || c.customer_id, 'handle', '@customer' || c.customer_id))
       END,
       CASE WHEN d.direction = 'in' THEN 'triaged' ELSE 'skipped' END,
       CASE WHEN d.direction = 'in' THEN c.created_at + (i - 1) * bench_gap(c.id) + interval '3 seconds' END,
       CASE WHEN d.direction = 'out' THEN 'sent' ELSE '' END,
       CASE WHEN d.direction = 'out' THEN 1 ELSE 0 END, ''
FROM inbox_conversation c,
     generate_series(1, bench_message_count(c.id)) i,
     LATERAL (
         SELECT CASE WHEN c.status = 'new' OR mod(i, 2) = 1 THEN 'in' ELSE 'out' END AS direction,
                CASE WHEN c.status = 'new' OR mod(i, 2) = 1
                     THEN (%(inbound)s::text[])[1 + mod(c.id * 10 + i, cardinality(%(inbound)s::text[]))]
                          || CASE WHEN bench_unit(c.id * 10 + i, 50) < %(rare_share)s THEN %(rare)s ELSE '' END
                     ELSE (%(outbound)s::text[])[1 + mod(c.id * 10 + i, cardinality(%(outbound)s::text[]))]
                END AS text
     ) d
WHERE c.id BETWEEN %(low)s AND %(high)s
"""

DECISIONS = """
INSERT INTO triage_triagedecision
    (id, message_id, message_type, sentiment, sentiment_score, language, influence, influence_band,
     action_needed, priority, queue_id, labels, scores, matched_rule_id, model_version_id, models_used,
     explanation, decided_at)
SELECT m.id, m.id, c.message_type, s.sentiment, s.score, 'en', f.influence,
       CASE WHEN f.influence >= 0.6 THEN 'high' WHEN f.influence >= 0.3 THEN 'medium' ELSE 'low' END,
       c.message_type <> 'compliment', c.priority, c.queue_id, '[]'::jsonb, '{}'::jsonb, NULL, NULL, '{}'::jsonb,
       'Bench: ' || c.message_type || ', ' || s.sentiment || ' (model)', m.processed_at
FROM inbox_message m
JOIN inbox_conversation c ON c.id = m.conversation_id
JOIN customers_identity a ON a.id = m.author_id,
LATERAL (
    SELECT CASE WHEN bench_unit(m.id, 30) < 0.30 THEN 'negative' WHEN bench_unit(m.id, 30) < 0.75 THEN 'neutral'
                ELSE 'positive' END AS sentiment,
           round((2 * bench_unit(m.id, 31) - 1)::numeric, 3)::double precision AS score
) s,
LATERAL (SELECT least(1.0, 0.85 * ln(1 + a.followers) / ln(100001)) AS influence) f
WHERE m.conversation_id BETWEEN %(low)s AND %(high)s AND m.direction = 'in'
"""

LABELS = """
INSERT INTO inbox_conversation_labels (id, conversation_id, label_id)
SELECT n, n, (%(labels)s::bigint[])[1 + mod(n, cardinality(%(labels)s::bigint[]))]
FROM generate_series(%(low)s::bigint, %(high)s::bigint) n
WHERE bench_unit(n, 40) < 0.1
"""

NOTES = """
INSERT INTO inbox_note (id, conversation_id, author_id, text, created_at)
SELECT c.id, c.id, (%(agents)s::integer[])[1 + mod(c.id, cardinality(%(agents)s::integer[]))],
       'Customer called the shop about this too; check order history before replying.',
       c.created_at + interval '10 minutes'
FROM inbox_conversation c
WHERE c.id BETWEEN %(low)s AND %(high)s AND bench_unit(c.id, 41) < 0.05
"""

# Each conversation's search words, as the triggers (off while loading) would have written them.
SEARCH_DOCUMENTS = """
INSERT INTO inbox_searchdocument (conversation_id, words)
SELECT id, socialcrm_search_document(id) FROM inbox_conversation WHERE id BETWEEN %(low)s AND %(high)s
"""

SEQUENCES = (
    "customers_customer",
    "customers_identity",
    "customers_customerrecord",
    "inbox_conversation",
    "inbox_message",
    "triage_triagedecision",
    "inbox_conversation_labels",
    "inbox_note",
)


@dataclass(frozen=True)
class Cast:
    """The rows made through the ORM that the SQL refers to, by id."""

    agents: list[int]
    channels: list[int]
    networks: list[str]
    queues: list[int]
    first_minutes: list[int]
    resolution_minutes: list[int]
    labels: list[int]

    def params(self) -> dict:
        return {
            "agents": self.agents,
            "channels": self.channels,
            "networks": self.networks,
            "queues": self.queues,
            "first_minutes": self.first_minutes,
            "resolution_minutes": self.resolution_minutes,
            "labels": self.labels,
            "first": FIRST_NAMES.split(),
            "last": LAST_NAMES.split(),
            "inbound": list(INBOUND_TEXTS),
            "outbound": list(OUTBOUND_TEXTS),
            "rare": RARE_SENTENCE,
            "rare_share": RARE_SHARE,
        }


def make_cast() -> Cast:
    """Channels, agents (the bench agent works service and PR), a manager, labels and canned replies."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from inbox.models import CannedReply, Channel, Label
    from triage.models import Queue

    queues = {queue.slug: queue for queue in Queue.objects.select_related("sla_policy")}
    ordered = [queues[slug] for slug in QUEUE_ORDER]
    channels = [
        Channel.objects.create(slug=slug, name=slug.replace("-", " ").title(), kind=kind, network=network)
        for slug, kind, network in CHANNELS
    ]
    User = get_user_model()
    agent_group, manager_group = Group.objects.get(name="agent"), Group.objects.get(name="manager")
    agents = []
    for number in range(AGENTS):
        agent = User.objects.create_user(username=f"bench-agent-{number}", first_name=f"Agent {number}")
        agent.groups.set([agent_group])
        agent.queues.set(
            [queues[slug] for slug in AGENT_QUEUES]
            if number == 0
            else [ordered[number % 5], ordered[(number + 2) % 5]][: 1 + number % 2]
        )
        agents.append(agent)
    manager = User.objects.create_user(username="bench-manager", first_name="Manager")
    manager.groups.set([manager_group])
    TOTP.activate(manager, generate_totp_secret())  # managers work only with a second factor enrolled
    labels = [
        Label.objects.create(name=name, color=color)
        for name, color in (
            ("outage", "#dc2626"),
            ("refund", "#d97706"),
            ("vip", "#7c3aed"),
            ("press", "#2563eb"),
            ("churn-risk", "#be123c"),
        )
    ]
    for shortcut, title, queue in (
        ("thanks", "Thank you", None),
        ("dm", "Ask for a private message", None),
        ("outage", "Known outage", queues["service"]),
        ("refund", "Refund on its way", queues["service"]),
        ("press", "Press office", queues["pr"]),
        ("pricing", "Business pricing", queues["sales"]),
        ("idea", "Idea logged", queues["product"]),
        ("escalate", "Escalated", None),
    ):
        CannedReply.objects.create(
            shortcut=shortcut,
            title=title,
            queue=queue,
            body="Hi {{ customer.first_name }}, thanks for getting in touch. {{ agent.first_name }} here: "
            "we are on it and will come back to you today.",
        )
    return Cast(
        agents=[agent.pk for agent in agents],
        channels=[channel.pk for channel in channels],
        networks=[channel.network for channel in channels],
        queues=[queue.pk for queue in ordered],
        first_minutes=[queue.sla_policy.first_response_minutes for queue in ordered],
        resolution_minutes=[queue.sla_policy.resolution_minutes for queue in ordered],
        labels=[label.pk for label in labels],
    )


def build(cast: Cast, *, existing: int, total: int) -> float:
    """Add conversations existing+1..total (and their customers, messages, decisions); returns seconds."""
    from socialcrm.progress import ProgressBar

    started = time.monotonic()
    customers = total // 2
    bar = ProgressBar((total - existing) * 5, label=f"Building {total * 5:>9,} messages")
    with psycopg.connect(harness.DATABASE_URL) as connection:
        # A bench loader writing rows it made consistent itself: skip the per-row FK triggers
        # (deferred, so they would queue millions of events until commit) and the WAL flush.
        connection.execute("SET session_replication_role = replica")
        connection.execute("SET synchronous_commit = off")
        connection.execute(FUNCTIONS)
        # Every customer first: a conversation may belong to any of them, old or new.
        new_customers = {**cast.params(), "low": existing // 2 + 1, "high": customers}
        for statement in (CUSTOMERS, IDENTITIES, RECORDS):
            connection.execute(statement, new_customers)
        connection.commit()
        for low in range(existing + 1, total + 1, CHUNK):
            high = min(low + CHUNK - 1, total)
            params = {**cast.params(), "low": low, "high": high, "customers": customers}
            for statement in (CONVERSATIONS, MESSAGES, DECISIONS, LABELS, NOTES, SEARCH_DOCUMENTS):
                connection.execute(statement, params)
            connection.commit()
            bar.update((high - existing) * 5)
        for table in SEQUENCES:
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        connection.commit()
    bar.finish()
    check_integrity()
    loaded = time.monotonic() - started
    harness.sql("VACUUM (ANALYZE)")  # what autovacuum would have done by the time anyone reads these rows
    seconds = time.monotonic() - started
    counts = harness.sql(
        "SELECT (SELECT count(*) FROM inbox_message), (SELECT count(*) FROM inbox_conversation),"
        " (SELECT count(*) FROM customers_customer), (SELECT count(*) FROM triage_triagedecision)"
    )[0]
    print(
        f"Built {counts[0]:,} messages in {counts[1]:,} conversations ({counts[2]:,} customers,"
        f" {counts[3]:,} triage decisions): {loaded:.0f} s loading + {seconds - loaded:.0f} s VACUUM ANALYZE"
    )
    return seconds


def check_integrity() -> None:
    """The triggers were off while loading: prove the references hold anyway."""
    orphans = harness.sql(
        """
        SELECT (SELECT count(*) FROM inbox_conversation c
                WHERE NOT EXISTS (SELECT FROM customers_customer u WHERE u.id = c.customer_id)),
               (SELECT count(*) FROM inbox_message m
                WHERE NOT EXISTS (SELECT FROM inbox_conversation c WHERE c.id = m.conversation_id)),
               (SELECT count(*) FROM inbox_message m WHERE m.author_id IS NOT NULL
                AND NOT EXISTS (SELECT FROM customers_identity i WHERE i.id = m.author_id))
        """
    )[0]
    if any(orphans):
        raise SystemExit(f"The bench data is inconsistent (orphans: {orphans}); the builder has a bug.")


# --- Measuring ---


@dataclass
class Figures:
    """The timed requests of one kind."""

    durations: list[float] = field(default_factory=list)  # ms
    queries: list[int] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)  # ms spent in the database per request


@dataclass
class Slow:
    """One query shape seen while measuring: its times and an example to EXPLAIN."""

    example: str
    kinds: set[str] = field(default_factory=set)
    times: list[float] = field(default_factory=list)


SLOW_QUERIES: dict[str, Slow] = {}
HTMX_LIST = {"HX-Request": "true", "HX-Target": "conversation-list"}
HTMX_MORE = {"HX-Request": "true", "HX-Target": "more-rows"}
HTMX_PANE = {"HX-Request": "true", "HX-Target": "conversation-pane"}
LIST_KINDS = ("inbox page", "list (htmx)", "list page 2+ (htmx)", "resolved tab (htmx)")
NEXT_CURSOR = re.compile(r"after=([0-9_]+)\"")


def shape(sql: str) -> str:
    return re.sub(r"\b\d+\b", "N", re.sub(r"'[^']*'", "'?'", sql))


def get(client, path: str, headers: dict, *, kind: str, figures: Figures | None):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()  # the log keeps 9,000 queries; a full one would capture nothing
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}")
    if figures is not None:
        figures.durations.append(elapsed)
        figures.queries.append(len(captured.captured_queries))
        figures.sql.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
        for query in captured.captured_queries:
            slow = SLOW_QUERIES.setdefault(shape(query["sql"]), Slow(example=query["sql"]))
            slow.kinds.add(kind)
            slow.times.append(float(query["time"]) * 1000)
    return response


class CursorWalk:
    """Pages 2, 3, ... of the service queue, each by the previous page's "Show more" link; page 2 after the last."""

    def __init__(self, client):
        self.client, self.cursor = client, ""

    def path(self) -> str:
        if not self.cursor:
            self.follow(self.client.get("/inbox/?queue=service", headers=HTMX_LIST))
            if not self.cursor:
                raise SystemExit("The service queue has a single page: no cursor to follow.")
        return f"/inbox/?queue=service&status=active&after={self.cursor}"

    def follow(self, response) -> None:
        found = NEXT_CURSOR.findall(response.content.decode())
        self.cursor = found[-1] if found else ""


def measure_as(user, *, role: str, requests: int) -> dict[str, Figures]:
    """Each kind of request as this user: WARM_UP untimed, then `requests` timed."""
    from django.test import Client

    from inbox.selectors import conversations_visible_to
    from triage.models import Queue

    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    ids = list(
        conversations_visible_to(user)
        .filter(queue__in=Queue.objects.filter(slug__in=AGENT_QUEUES))
        .values_list("pk", "customer_id")
    )
    # Both roles open the same conversations and customers: random ones from the agent's queues.
    sample = random.Random(42).sample(ids, min(len(ids), WARM_UP + requests))
    pages = CursorWalk(client)
    kinds = {
        "inbox page": lambda n: ("/inbox/?queue=service", {}),
        "list (htmx)": lambda n: ("/inbox/?queue=service", HTMX_LIST),
        "list page 2+ (htmx)": lambda n: (pages.path(), HTMX_MORE),
        "resolved tab (htmx)": lambda n: ("/inbox/?queue=service&status=resolved", HTMX_LIST),
        "by time to breach": lambda n: ("/inbox/?queue=service&sort=breach", HTMX_LIST),
        "breached (htmx)": lambda n: ("/inbox/?queue=service&sla=breached&sort=breach", HTMX_LIST),
        "conversation page": lambda n: (f"/inbox/conversations/{sample[n % len(sample)][0]}/", {}),
        "conversation (htmx)": lambda n: (f"/inbox/conversations/{sample[n % len(sample)][0]}/", HTMX_PANE),
        "customer page": lambda n: (f"/customers/{sample[n % len(sample)][1]}/", {}),
        **{
            kind: lambda n, q=q: (f"/inbox/?queue=service&status=all&q={quote_plus(q)}", HTMX_LIST)
            for kind, q in SEARCHES.items()
        },
        "search: common, New & open": lambda n: ("/inbox/?queue=service&q=app", HTMX_LIST),
    }
    results = {}
    for kind, request in kinds.items():
        figures = Figures()
        for number in range(WARM_UP + requests):
            path, headers = request(number)
            timed = figures if number >= WARM_UP else None
            response = get(client, path, headers, kind=f"{role}: {kind}", figures=timed)
            if kind == "list page 2+ (htmx)":
                pages.follow(response)
        results[kind] = figures
    return results


def measure(*, label: str, requests: int) -> dict[tuple[str, str], Figures]:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    SLOW_QUERIES.clear()
    results = {}
    for role, username in (("agent", "bench-agent-0"), ("manager", "bench-manager")):
        for kind, figures in measure_as(User.objects.get(username=username), role=role, requests=requests).items():
            results[(role, kind)] = figures
    print_table(label, results)
    return results


def print_table(label: str, results: dict[tuple[str, str], Figures]) -> None:
    print(f"\n{label}: server time in ms over {len(next(iter(results.values())).durations)} requests each")
    print(f"  {'role':<8} {'request':<26} {'p50':>6} {'p95':>6} {'max':>6}  {'queries':>7}  {'sql p50':>7}")
    for (role, kind), figures in results.items():
        print(
            f"  {role:<8} {kind:<26} {harness.percentile(figures.durations, 0.5):6.1f}"
            f" {harness.percentile(figures.durations, 0.95):6.1f} {max(figures.durations):6.1f}"
            f"  {_queries(figures.queries):>7}  {harness.percentile(figures.sql, 0.5):7.1f}"
        )


def _queries(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


def verdicts(small: dict, large: dict) -> None:
    print(
        f"\nTargets at the large size: p95 <= {TARGET_MS} ms (a search: <= {SEARCH_TARGET_MS} ms);"
        f" list growth <= {GROWTH_LIMIT}x"
    )
    for (role, kind), figures in large.items():
        p95 = harness.percentile(figures.durations, 0.95)
        target = SEARCH_TARGET_MS if kind.startswith("search") else TARGET_MS
        line = f"  {role:<8} {kind:<26} p95 {p95:6.1f} ms {'meets' if p95 <= target else 'MISSES'}"
        if (role, kind) in small:
            ratio = p95 / harness.percentile(small[(role, kind)].durations, 0.95)
            line += f"; grew {ratio:5.1f}x"
            if kind in LIST_KINDS:
                line += " meets" if ratio <= GROWTH_LIMIT else " MISSES"
        print(line)


def explain_slowest(*, limit: int = 6, over_ms: float = 5.0) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the query shapes with the highest p95, and of any that scans a table."""
    from django.db import connection

    ranked = sorted(SLOW_QUERIES.values(), key=lambda slow: -harness.percentile(slow.times, 0.95))
    chosen = [slow for slow in ranked if harness.percentile(slow.times, 0.95) >= over_ms][:limit]
    print(f"\nSlowest query shapes (p95 >= {over_ms} ms), with their plans:")
    for slow in chosen:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slow.example)
            plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
        print(
            f"\n  p50 {harness.percentile(slow.times, 0.5):.1f} ms, p95 {harness.percentile(slow.times, 0.95):.1f} ms,"
            f" {len(slow.times)} runs, in: {', '.join(sorted(slow.kinds))}\n    {_abridged(slow.example)}\n{plan}"
        )


def _abridged(sql: str, length: int = 700) -> str:
    """The query from its own FROM on (the selected columns say little), cut at `length` characters."""
    depth, start = 0, -1
    for position, character in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0 and sql.startswith(" FROM ", position):
            start = position
            break
    text = ("SELECT … " + sql[start + 1 :]) if start > 0 else sql
    return text if len(text) <= length else text[:length] + " …"


def conversations_in_database() -> int:
    return harness.sql("SELECT count(*) FROM inbox_conversation")[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-build", action="store_true", help="Measure the bench database as it stands.")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="Timed requests per kind.")
    parser.add_argument(
        "--sizes", default=",".join(str(size) for size in SIZES), help="Conversations at each size, comma-separated."
    )
    arguments = parser.parse_args()
    setup_django()
    started = time.monotonic()
    if arguments.skip_build:
        total = conversations_in_database()
        measure(label=f"{total * 5:,} messages (as built)", requests=arguments.requests)
        explain_slowest()
        return
    sizes = [int(size) for size in arguments.sizes.split(",")]
    harness.fresh_database()
    cast = make_cast()
    results, existing, building = [], 0, 0.0
    for total in sizes:
        building += build(cast, existing=existing, total=total)
        results.append(measure(label=f"{total * 5:,} messages in {total:,} conversations", requests=arguments.requests))
        existing = total
    verdicts(results[0] if len(results) > 1 else {}, results[-1])
    explain_slowest()
    print(f"\nBuilding took {building:.0f} s in all; the whole run {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
