"""What the router has learned: the seed set, training from seed plus agents' corrections, and activation.

Every model is trained on the project's own seed set (triage/seed/*.csv) plus agents' corrections,
scored on a held-out fifth, and becomes active only if it scores no worse there than the active one.
Each process loads the active models once and reloads only when another version is activated; a
version that fails to load is recorded on its row and the previous model keeps routing.
"""

import csv
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db import transaction
from django.db.models import F

from triage import classifiers
from triage.classifiers import ArtifactError, LinearModel
from triage.models import ClassifierVersion, Correction

log = logging.getLogger(__name__)

SEED_DIR = Path(__file__).resolve().parent / "seed"
Task = ClassifierVersion.Task
# The seed set's column for each task, and the Correction field that corrects it.
SEED_COLUMN = {Task.TYPE: "type", Task.QUEUE: "queue", Task.SENTIMENT: Correction.Field.SENTIMENT}
CORRECTION_FIELD = {
    Task.TYPE: Correction.Field.TYPE,
    Task.QUEUE: Correction.Field.QUEUE,
    Task.SENTIMENT: Correction.Field.SENTIMENT,
}
HELDOUT_SHARE = 0.2


@cache
def seed_rows() -> tuple[dict[str, str], ...]:
    rows = []
    for path in sorted(SEED_DIR.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as file:
            rows.extend(csv.DictReader(file))
    return tuple(rows)


def seed_examples(task: str) -> tuple[list[str], list[str]]:
    column = SEED_COLUMN[task]
    rows = [row for row in seed_rows() if row["text"].strip() and row[column]]
    return [row["text"] for row in rows], [row[column] for row in rows]


def correction_examples(task: str) -> tuple[list[str], list[str], list[int]]:
    """Agents' latest word on each message (type, sentiment) or conversation (queue).

    Returns texts, labels, and the ids of every correction considered (superseded ones included).
    """
    corrections = (
        Correction.objects.filter(field=CORRECTION_FIELD[task])
        .select_related("message")
        .order_by("-corrected_at", "-pk")
    )
    latest: dict[tuple, Correction] = {}
    considered = []
    for correction in corrections:
        considered.append(correction.pk)
        key = (correction.message_id,) if correction.message_id else ("conversation", correction.conversation_id)
        latest.setdefault(key, correction)
    first_texts = _first_inbound_texts([c for c in latest.values() if c.message_id is None])
    texts, labels = [], []
    for correction in latest.values():
        text = correction.message.text if correction.message_id else first_texts.get(correction.conversation_id)
        if text and text.strip():
            texts.append(text)
            labels.append(correction.new_value)
    return texts, labels, considered


def _first_inbound_texts(corrections: list[Correction]) -> dict[int, str]:
    """The text each corrected conversation began with, read through the corrections' own relation."""
    texts: dict[int, str] = {}
    for conversation_id, text in (
        Correction.objects.filter(pk__in=[c.pk for c in corrections], conversation__messages__direction="in")
        .order_by("conversation_id", "conversation__messages__posted_at", "conversation__messages__pk")
        .values_list("conversation_id", "conversation__messages__text")
    ):
        texts.setdefault(conversation_id, text)
    return texts


def _split(texts: list[str], labels: list[str]):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(texts, labels, test_size=HELDOUT_SHARE, random_state=0, stratify=labels)
    except ValueError:  # a label with a single example cannot be stratified
        return train_test_split(texts, labels, test_size=HELDOUT_SHARE, random_state=0)


def _evaluate(model: LinearModel, texts: list[str], labels: list[str]) -> dict[str, float]:
    probabilities = model.predict_proba(classifiers.featurize(texts).matrix)
    predicted = [model.classes[i] for i in probabilities.argmax(axis=1)]
    return classifiers.scores(truth=labels, predicted=predicted)


def train_version(*, task: str, reason: str) -> ClassifierVersion:
    """Train a new version on seed plus corrections; activate it only if it is not worse than the active one.

    Scores come from a held-out fifth that neither model trained on; the version that is stored is
    then refitted on every example. Corrections used for the first time point at this version.
    """
    seed_texts, seed_labels = seed_examples(task)
    fix_texts, fix_labels, fix_ids = correction_examples(task)
    texts, labels = seed_texts + fix_texts, seed_labels + fix_labels
    train_texts, heldout_texts, train_labels, heldout_labels = _split(texts, labels)
    candidate = classifiers.train(task=task, texts=train_texts, labels=train_labels)
    scores = _evaluate(candidate, heldout_texts, heldout_labels)
    active = ClassifierVersion.objects.filter(task=task, is_active=True).first()
    active_scores = None
    if active is not None:
        try:
            active_scores = _evaluate(load_version(active), heldout_texts, heldout_labels)
        except ArtifactError as problem:
            log.warning("The active %s model could not be read for comparison: %s", task, problem)
    better_or_equal = active_scores is None or scores["macro_f1"] >= active_scores["macro_f1"]
    final = classifiers.train(task=task, texts=texts, labels=labels)
    artifact = final.to_bytes()
    with transaction.atomic():
        if better_or_equal:
            ClassifierVersion.objects.filter(task=task, is_active=True).update(is_active=False)
        version = ClassifierVersion.objects.create(
            task=task,
            seed_examples=len(seed_texts),
            correction_examples=len(fix_texts),
            heldout_scores={
                **scores,
                **(
                    {"active_version": active.pk, "active_macro_f1": active_scores["macro_f1"]} if active_scores else {}
                ),
            },
            artifact=artifact,
            artifact_sha256=classifiers.sha256(artifact),
            is_active=better_or_equal,
            reason=reason[:100],
        )
        Correction.objects.filter(pk__in=fix_ids, used_in__isnull=True).update(used_in=version)
        _prune(task)
    log.info(
        "Trained %s v%s (%s): held-out macro-F1 %.3f%s",
        task,
        version.pk,
        "active" if better_or_equal else "kept inactive",
        scores["macro_f1"],
        f" vs active {active_scores['macro_f1']:.3f}" if active_scores else "",
    )
    return version


KEEP_VERSIONS = 10


def _prune(task: str) -> None:
    """Keep the newest KEEP_VERSIONS versions of a task (and always the active one): each holds megabytes."""
    keep = list(
        ClassifierVersion.objects.filter(task=task).order_by("-trained_at", "-pk").values_list("pk", flat=True)
    )[:KEEP_VERSIONS]
    ClassifierVersion.objects.filter(task=task, is_active=False).exclude(pk__in=keep).delete()


@transaction.atomic
def activate_version(version: ClassifierVersion) -> ClassifierVersion:
    """Make this version the one that routes (roll forward or back); every process picks it up on its next batch."""
    ClassifierVersion.objects.filter(task=version.task, is_active=True).exclude(pk=version.pk).update(is_active=False)
    ClassifierVersion.objects.filter(pk=version.pk).update(is_active=True, load_error="")
    version.refresh_from_db()
    return version


def ensure_seed_versions() -> list[ClassifierVersion]:
    """Day one: give each task lacking any version one trained on the seed set (run after migrate)."""
    have = set(ClassifierVersion.objects.values_list("task", flat=True).distinct())
    created = []
    for task in Task.values:
        if task in have:
            continue
        seed_texts, _ = seed_examples(task)
        heldout, artifact = _seed_training(task)
        created.append(
            ClassifierVersion.objects.create(
                task=task,
                seed_examples=len(seed_texts),
                heldout_scores=heldout,
                artifact=artifact,
                artifact_sha256=classifiers.sha256(artifact),
                is_active=not ClassifierVersion.objects.filter(task=task, is_active=True).exists(),
                reason="seed set",
            )
        )
    return created


@cache
def _seed_training(task: str) -> tuple[dict, bytes]:
    # The seed set is fixed for a given release, so a process trains on it once (tests flush and re-seed often).
    texts, labels = seed_examples(task)
    train_texts, heldout_texts, train_labels, heldout_labels = _split(texts, labels)
    candidate = classifiers.train(task=task, texts=train_texts, labels=train_labels)
    heldout = _evaluate(candidate, heldout_texts, heldout_labels)
    final = classifiers.train(task=task, texts=texts, labels=labels)
    return heldout, final.to_bytes()


def load_version(version: ClassifierVersion) -> LinearModel:
    """Read a stored version, checking its digest first. Raises ArtifactError."""
    artifact = bytes(version.artifact or b"")
    if classifiers.sha256(artifact) != version.artifact_sha256:
        raise ArtifactError("its stored digest does not match its contents")
    return LinearModel.from_bytes(artifact, task=version.task)


@dataclass(frozen=True)
class LoadedModel:
    version_id: int | None  # None: trained in memory from the seed set, because no stored version loads
    model: LinearModel


_loaded: dict[str, LoadedModel] = {}
_failed: set[int] = set()


def active_models() -> dict[str, LoadedModel]:
    """The model that routes for each task, loaded once per process (one query a call to notice changes)."""
    wanted = dict(ClassifierVersion.objects.filter(is_active=True).values_list("task", "pk"))
    for task in Task.values:
        current = _loaded.get(task)
        version_id = wanted.get(task)
        if current is not None and (current.version_id == version_id or version_id in _failed):
            continue
        loaded = _load(version_id) if version_id is not None and version_id not in _failed else None
        if loaded is None and current is None:
            loaded = _fallback(task)
        if loaded is not None:
            _loaded[task] = loaded
    return dict(_loaded)


def _load(version_id: int) -> LoadedModel | None:
    version = ClassifierVersion.objects.filter(pk=version_id).first()
    if version is None:
        return None
    try:
        model = load_version(version)
    except Exception as problem:  # ArtifactError, or anything else a bad row can raise: the old model routes on
        _failed.add(version_id)
        message = f"Could not load: {problem}. The previous model keeps routing."
        log.error("%s model v%s: %s", version.task, version_id, message)
        ClassifierVersion.objects.filter(pk=version_id).update(load_error=message)
        return None
    if version.load_error:
        ClassifierVersion.objects.filter(pk=version_id).update(load_error="")
    return LoadedModel(version_id, model)


def _fallback(task: str) -> LoadedModel:
    """No usable active version in this process: the newest one that loads, else the seed set trained here."""
    for version_id in (
        ClassifierVersion.objects.filter(task=task, load_error="")
        .exclude(pk__in=_failed)
        .order_by(F("is_active").desc(), "-trained_at")
        .values_list("pk", flat=True)[:5]
    ):
        loaded = _load(version_id)
        if loaded is not None:
            return loaded
    return LoadedModel(None, _seed_model(task))


@cache
def _seed_model(task: str) -> LinearModel:
    return LinearModel.from_bytes(_seed_training(task)[1], task=task)


def forget_loaded_models() -> None:
    """For tests: make the next active_models() load from the database again."""
    _loaded.clear()
    _failed.clear()
