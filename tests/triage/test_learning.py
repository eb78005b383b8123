"""The router learns from agents' corrections, only ever gets better, and survives a broken model."""

import io
import logging
import pickle

import numpy as np
import pytest

from tests.factories import PASSWORD, make_user
from triage import learning
from triage.models import ClassifierVersion, Correction, TriageSettings
from triage.pipeline import Item, decide
from triage.tasks import retrain_classifiers

pytestmark = pytest.mark.django_db
Task = ClassifierVersion.Task


def active(task: str) -> ClassifierVersion:
    return ClassifierVersion.objects.get(task=task, is_active=True)


def test_after_migrate_every_task_has_an_active_seed_model_with_heldout_scores():
    for task in Task.values:
        version = active(task)
        assert version.reason == "seed set" and version.seed_examples > 1000
        assert 0.6 < version.heldout_scores["macro_f1"] <= 1
        assert version.heldout_scores["examples"] > 200


def test_a_decision_names_the_models_that_made_it():
    decision = decide([Item(text="hello")])[0]

    assert decision.models_used == {task: active(task).pk for task in (Task.TYPE, Task.QUEUE, Task.SENTIMENT)}
    assert decision.model_version == " ".join(f"{t}:{active(t).pk}" for t in ("type", "queue", "sentiment"))


def test_retraining_with_good_corrections_makes_a_new_active_version_that_uses_them(agent_in_service_queue):
    from tests.factories import make_conversation

    before = active(Task.TYPE)
    conversation = make_conversation(text="The hold music on your helpline is lovely, who is the composer?")
    message = conversation.messages.get()
    for _ in range(3):
        Correction.objects.create(
            conversation=conversation, message=message, field="type", old_value="question", new_value="compliment"
        )

    new = learning.train_version(task=Task.TYPE, reason="test")

    assert new.correction_examples == 1  # the latest word on each message counts once
    assert new.heldout_scores["active_version"] == before.pk
    assert new.is_active == (new.heldout_scores["macro_f1"] >= new.heldout_scores["active_macro_f1"])
    assert Correction.objects.filter(used_in=new).count() == 3


def test_a_worse_model_is_kept_but_not_activated(monkeypatch):
    before = active(Task.QUEUE)
    real_evaluate = learning._evaluate
    calls = []

    def candidate_scores_worse(model, texts, labels):
        scores = real_evaluate(model, texts, labels)
        calls.append(scores)
        return {**scores, "macro_f1": 0.1} if len(calls) == 1 else scores

    monkeypatch.setattr(learning, "_evaluate", candidate_scores_worse)

    new = learning.train_version(task=Task.QUEUE, reason="test")

    assert not new.is_active and active(Task.QUEUE) == before
    assert new.heldout_scores["macro_f1"] == 0.1 < new.heldout_scores["active_macro_f1"]


def test_enough_corrections_start_a_retraining(agent_in_service_queue, django_capture_on_commit_callbacks):
    from inbox.services.triage import change_queue
    from inbox.tasks import triage_messages
    from tests.factories import make_conversation

    TriageSettings.objects.filter(pk=1).update(retrain_after_corrections=2)
    versions = ClassifierVersion.objects.count()
    conversations = [make_conversation(text=f"Do you sell gift cards, number {n}?") for n in range(2)]
    triage_messages([c.messages.get().pk for c in conversations])
    from triage.models import Queue

    with django_capture_on_commit_callbacks(execute=True):
        for conversation in conversations:
            change_queue(conversation=conversation, queue=Queue.objects.get(slug="product"), by=agent_in_service_queue)

    assert ClassifierVersion.objects.count() == versions + 3  # type, queue and sentiment retrained (eagerly here)
    assert Correction.objects.filter(used_in__task=Task.QUEUE).count() == 2


def test_the_nightly_task_retrains_every_model():
    versions = ClassifierVersion.objects.count()

    retrain_classifiers(reason="nightly")

    assert ClassifierVersion.objects.count() == versions + 3
    assert set(ClassifierVersion.objects.filter(reason="nightly").values_list("task", flat=True)) == set(Task.values)


def test_a_model_that_fails_to_load_leaves_the_previous_one_routing_and_says_so(caplog):
    before = decide([Item(text="How much is the unlimited plan?")])[0]
    broken = ClassifierVersion.objects.create(
        task=Task.QUEUE, artifact=b"not a model", artifact_sha256=learning.classifiers.sha256(b"not a model")
    )
    learning.activate_version(broken)

    with caplog.at_level(logging.ERROR):
        after = decide([Item(text="How much is the unlimited plan?")])[0]

    assert after.queue_slug == before.queue_slug and after.models_used[Task.QUEUE] == before.models_used[Task.QUEUE]
    broken.refresh_from_db()
    assert "Could not load" in broken.load_error and "previous model keeps routing" in broken.load_error
    assert "Could not load" in caplog.text


def test_a_fresh_process_with_a_broken_active_model_falls_back_to_a_good_version():
    good = active(Task.TYPE)
    broken = ClassifierVersion.objects.create(task=Task.TYPE, artifact=b"x", artifact_sha256="0" * 64)
    learning.activate_version(broken)

    decision = decide([Item(text="Where is my parcel?")])[0]

    assert decision.models_used[Task.TYPE] == good.pk
    assert "digest" in ClassifierVersion.objects.get(pk=broken.pk).load_error


def test_a_pickle_is_never_loaded_even_with_a_matching_digest():
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    buffer = io.BytesIO()
    np.savez(buffer, task=np.array("type"), weights=np.array([Boom()], dtype=object))
    payload = buffer.getvalue()
    version = ClassifierVersion.objects.create(
        task=Task.TYPE, artifact=payload, artifact_sha256=learning.classifiers.sha256(payload)
    )

    with pytest.raises(learning.ArtifactError):
        learning.load_version(version)
    raw = pickle.dumps(Boom())
    with pytest.raises(learning.ArtifactError):
        learning.classifiers.LinearModel.from_bytes(raw, task="type")


def test_admin_rolls_back_to_an_earlier_version_and_the_next_decision_uses_it(client):
    from django.contrib.auth import get_user_model

    admin = make_user("ada", role="admin")
    get_user_model().objects.filter(pk=admin.pk).update(is_superuser=True)
    client.login(username="ada", password=PASSWORD)
    seed = active(Task.QUEUE)
    newer = learning.train_version(task=Task.QUEUE, reason="test")
    learning.activate_version(newer)
    assert decide([Item(text="hi")])[0].models_used[Task.QUEUE] == newer.pk

    page = client.get("/admin/triage/classifierversion/")
    assert "Held-out macro-F1" in page.content.decode()
    response = client.post(
        "/admin/triage/classifierversion/", {"action": "activate", "_selected_action": [seed.pk]}, follow=True
    )

    assert "now routes new messages" in response.content.decode()
    assert active(Task.QUEUE) == seed
    assert decide([Item(text="hi")])[0].models_used[Task.QUEUE] == seed.pk


def test_admin_refuses_to_activate_a_version_that_cannot_load(client):
    from django.contrib.auth import get_user_model

    admin = make_user("ada", role="admin")
    get_user_model().objects.filter(pk=admin.pk).update(is_superuser=True)
    client.login(username="ada", password=PASSWORD)
    broken = ClassifierVersion.objects.create(task=Task.TYPE, artifact=b"x", artifact_sha256="0" * 64)

    response = client.post(
        "/admin/triage/classifierversion/", {"action": "activate", "_selected_action": [broken.pk]}, follow=True
    )

    assert "cannot be activated" in response.content.decode()
    assert not ClassifierVersion.objects.get(pk=broken.pk).is_active
