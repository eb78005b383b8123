"""What a security review found: each case a bad file, pattern, user or race must survive."""

import importlib
import io
import time

import numpy as np
import pytest
from django.apps import apps
from django.core.cache import cache

from inbox.models import Conversation, Message
from inbox.services.triage import triage_messages
from tests.factories import PASSWORD, make_conversation, make_user
from triage import learning
from triage.classifiers import FEATURE_SPEC, ArtifactError, LinearModel
from triage.models import ClassifierVersion, Queue, RoutingRule, TriageDecision
from triage.pipeline import Item, decide
from triage.routing import compile_pattern
from triage.tasks import RETRAIN_RUNNING_KEY, retrain_classifiers

pytestmark = pytest.mark.django_db


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


GOOD = {
    "task": np.array("type"),
    "feature_spec": np.array(FEATURE_SPEC),
    "classes": np.array(["a", "b"]),
    "columns": np.array([1, 2]),
    "weights": np.zeros((2, 2), dtype=np.float32),
    "bias": np.zeros(2),
}


@pytest.mark.parametrize(
    "payload",
    [
        b"PK\x03\x04 broken zip",
        npy(),
        npz(**{**GOOD, "classes": np.array("a")}),
        npz(**{**GOOD, "columns": np.array([1.5, 2.5])}),
        npz(**{**GOOD, "weights": np.array([["x", "y"], ["z", "w"]])}),
        npz(**{**GOOD, "classes": np.array([str(n) for n in range(5000)])}),
        npz(**{**GOOD, "classes": np.array(["a", "a"])}),
    ],
    ids=["broken-zip", "npy", "0d-classes", "float-columns", "string-weights", "huge-classes", "repeated-classes"],
)
def test_any_malformed_model_file_is_refused_cleanly(payload):
    with pytest.raises(ArtifactError):
        LinearModel.from_bytes(payload, task="type")


def test_a_malformed_active_model_never_stops_triage():
    payload = npz(**{**GOOD, "weights": np.array([["x", "y"], ["z", "w"]])})
    broken = ClassifierVersion.objects.create(
        task="type", artifact=payload, artifact_sha256=learning.classifiers.sha256(payload)
    )
    learning.activate_version(broken)

    assert decide([Item(text="Where is my parcel?")])[0].message_type == "question"
    assert ClassifierVersion.objects.get(pk=broken.pk).load_error


@pytest.mark.parametrize("pattern", ["((a{1000}){1000}){1000}", "(?:a{1000}){1000}", "x{0,5000}"])
def test_huge_counted_repeats_are_refused_before_compiling(pattern):
    with pytest.raises(ValueError, match="Repeat counts above 100"):
        compile_pattern(pattern)


def test_slow_patterns_cost_a_bounded_time_per_batch_however_many_items():
    RoutingRule.objects.create(name="Slow", position=0, pattern=r"(\w+\s?)+$", set_queue=Queue.objects.get(slug="pr"))
    items = [Item(text="word " * 40 + "!") for _ in range(300)]

    started = time.perf_counter()
    decisions = decide(items)

    assert time.perf_counter() - started < 5  # 50 ms each would be 15 s; the batch has a 1 s budget
    assert all(d.queue_slug != "pr" for d in decisions)


def test_history_from_before_triage_is_not_re_routed():
    migration = importlib.import_module("triage.migrations.0005_history_before_triage")
    old = make_conversation("sales", text="How do I reset my PIN?", status=Conversation.Status.RESOLVED)
    Message.objects.update(triage_state=Message.TriageState.WAITING)

    migration.mark_history_untriaged(apps, None)

    assert Message.objects.get().triage_state == Message.TriageState.SKIPPED
    assert triage_messages(message_ids=[old.messages.get().pk]) == 0
    assert Conversation.objects.get().queue.slug == "sales"


def test_a_queue_chosen_by_a_person_before_triage_ran_stands():
    moved = make_conversation("product", text="How do I reset my voicemail PIN?")  # not the channel's queue

    triage_messages(message_ids=[moved.messages.get().pk])

    assert Conversation.objects.get().queue.slug == "product"
    assert TriageDecision.objects.get().queue.slug == "service"  # what triage would have chosen is still kept


def test_a_rule_whose_agent_was_deleted_does_not_break_triage():
    agent = make_user("gone", role="agent")
    RoutingRule.objects.create(name="To Gone", position=0, keywords="voicemail", assign_to=agent)
    decide([Item(text="warm the compiled rules")])
    agent.delete()
    conversation = make_conversation(None, text="How do I reset my voicemail PIN?")

    assert triage_messages(message_ids=[conversation.messages.get().pk]) == 1
    assert Conversation.objects.get().assignee is None


def test_one_retraining_at_a_time():
    cache.set(RETRAIN_RUNNING_KEY, "someone else", timeout=60)
    versions = ClassifierVersion.objects.count()

    assert retrain_classifiers(reason="overlap") == []
    assert ClassifierVersion.objects.count() == versions
    assert cache.get(RETRAIN_RUNNING_KEY) == "someone else"  # not ours to release


def test_old_versions_are_pruned_but_the_active_one_is_kept():
    seed = ClassifierVersion.objects.get(task="sentiment", is_active=True)
    for _ in range(learning.KEEP_VERSIONS + 1):
        ClassifierVersion.objects.create(task="sentiment", artifact=b"x", artifact_sha256="0" * 64)

    learning._prune("sentiment")

    assert ClassifierVersion.objects.filter(task="sentiment").count() == learning.KEEP_VERSIONS + 1
    assert ClassifierVersion.objects.filter(pk=seed.pk).exists()


def test_a_correction_says_who_corrected_and_the_score_follows_the_label(agent_in_service_queue):
    from inbox.services.triage import correct_message

    conversation = make_conversation(text="My bill is wrong again, third month running")
    triage_messages(message_ids=[conversation.messages.get().pk])

    decision = correct_message(message=conversation.messages.get(), sentiment="positive", by=agent_in_service_queue)

    assert decision.sentiment_score == 1.0
    assert decision.explanation.startswith("corrected by sam (triage said negative); rule '")


def test_a_rule_without_conditions_saves_with_a_warning(client):
    from django.contrib.auth import get_user_model

    admin = make_user("ada", role="admin")
    get_user_model().objects.filter(pk=admin.pk).update(is_superuser=True)
    client.login(username="ada", password=PASSWORD)

    response = client.post(
        "/admin/triage/routingrule/add/",
        {"name": "Catch all", "position": 1, "is_active": "on", "set_queue": Queue.objects.get(slug="pr").pk},
        follow=True,
    )

    assert "has no conditions: it matches every message" in response.content.decode()


def test_admins_can_open_triage_settings(client):
    make_user("ada", role="admin")  # an admin by role, not a superuser
    client.login(username="ada", password=PASSWORD)

    response = client.get("/admin/triage/triagesettings/", follow=True)

    assert response.status_code == 200 and "Influence bands" in response.content.decode()
