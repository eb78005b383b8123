"""What triage decides for a message, and the bad inputs it must survive."""

import time

import pytest

from triage.models import Priority, RoutingRule
from triage.pipeline import Item, decide
from triage.scoring import Author

pytestmark = pytest.mark.django_db

COMPLAINT = "@brand my internet has been down for three days and nobody answers, this is a disgrace. I want a refund"


def one(text: str, **fields):
    return decide([Item(text=text, **fields)])[0]


@pytest.mark.parametrize(
    ("text", "message_type", "queue"),
    [
        (COMPLAINT, "complaint", "service"),
        ("How do I reset my voicemail PIN?", "question", "service"),
        (
            "Thank you @brand, Jess in the Leeds store was brilliant and sorted my phone in minutes!",
            "compliment",
            "marketing",
        ),
        ("Please add a dark mode to the app, and let me split the bill with friends", "feedback", "product"),
        ("Thinking of switching to you, how much is the family plan with 4 lines?", "lead", "sales"),
    ],
)
def test_each_kind_of_message_lands_in_its_queue_with_a_reason(text, message_type, queue):
    decision = one(text)

    assert (decision.message_type, decision.queue_slug) == (message_type, queue)
    assert decision.rule_name  # a default rule decided, and says so
    assert decision.explanation.startswith(f"rule '{decision.rule_name}': {message_type}")


def test_a_negative_complaint_from_an_influential_author_is_urgent_pr_work():
    decision = one(COMPLAINT, author=Author(followers=120_000, verified=True))

    assert decision.sentiment == "negative" and decision.sentiment_score < -0.3
    assert decision.influence_band == "high"
    assert decision.queue_slug == "pr" and decision.priority == Priority.URGENT
    assert decision.labels == ["influencer"]
    assert "rule 'Influencer complaints'" in decision.explanation and "120k followers" in decision.explanation


def test_the_same_complaint_from_an_unknown_author_outranks_a_compliment_but_is_not_urgent():
    complaint = one(COMPLAINT)
    compliment = one("Love the new app, great job!", author=Author(followers=120_000, verified=True))

    assert complaint.queue_slug == "service" and complaint.priority < Priority.URGENT
    assert complaint.priority > compliment.priority
    assert complaint.action_needed and not compliment.action_needed


def test_press_words_go_to_pr():
    decision = one(
        "I'm a reporter at the Evening Ledger writing about yesterday's outage, can your press office comment?"
    )

    assert decision.queue_slug == "pr" and decision.rule_name == "Press and legal" and "press" in decision.labels


def test_when_no_rule_decides_the_model_does_and_says_how_sure_it_is():
    RoutingRule.objects.all().delete()

    decision = one("Please add a dark mode to the app, my eyes hurt at night")

    assert decision.rule_name == "" and decision.queue_slug == "product"
    assert decision.explanation.startswith("model chose Product (")
    assert "from the words 'app'" in decision.explanation


def test_language_is_detected():
    assert one("¿Dónde está mi pedido? Llevo una semana esperando").language == "es"
    assert one("Où est ma commande ? J'attends depuis une semaine").language == "fr"
    assert one(COMPLAINT).language == "en"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😡😡😡", "🙂", "https://t.co/abc123", "https://example.com/a http://b.example", "!!! ???"],
)
def test_texts_with_little_or_nothing_to_read_still_get_a_decision(text):
    decision = one(text, default_queue_id=None)

    assert decision.sentiment in {"negative", "neutral", "positive"}
    assert -1 <= decision.sentiment_score <= 1
    assert decision.explanation


def test_empty_and_link_only_texts_are_other_and_neutral():
    for text in ("", "https://t.co/abc123"):
        decision = one(text)
        assert (decision.message_type, decision.sentiment, decision.sentiment_score) == ("other", "neutral", 0.0)
        assert "nothing to read" in decision.explanation


def test_emoji_carry_sentiment():
    assert one("😡😡😡").sentiment == "negative"
    assert one("😍😍🎉").sentiment == "positive"


def test_ten_thousand_characters_are_triaged_quickly():
    text = ("My router keeps dropping the connection every evening and support never calls back. " * 120)[:10_000]

    started = time.perf_counter()
    decision = one(text)

    assert time.perf_counter() - started < 2
    assert decision.message_type == "complaint" and decision.queue_slug == "service"


def test_mixed_scripts_get_one_language_and_a_decision():
    decision = one("Привет! My order 1234 never arrived 注文 where is it??")

    assert decision.language in {"en", "ru"}
    assert decision.queue_slug


def test_a_batch_keeps_its_order():
    texts = [COMPLAINT, "Love you guys ❤️", "How much is the unlimited plan?"] * 10

    decisions = decide([Item(text=text) for text in texts])

    assert [d.message_type for d in decisions] == ["complaint", "compliment", "lead"] * 10
