"""Learned classifiers: one feature space for every model, linear models, and their safe artifact format.

A batch is vectorised once (`featurize`) and every model reads the same matrix. Features are
hashed, so there is no vocabulary to keep in step between training and prediction. A model is a
plain matrix of weights saved as a NumPy .npz read with allow_pickle=False: loading one runs no code.
"""

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from triage.language import STOPWORDS

MAX_CHARS = 2_000  # what a classifier reads of a message; the start says what it is about
WORD_FEATURES = 2**17
CHAR_FEATURES = 2**17
DENSE_FEATURES = ("vader_compound", "vader_positive", "vader_negative", "question_mark", "asks", "exclaims", "url")
FEATURE_SPEC = f"words12-{WORD_FEATURES}+chars35-{CHAR_FEATURES}+dense{len(DENSE_FEATURES)}-v1"
N_FEATURES = WORD_FEATURES + CHAR_FEATURES + len(DENSE_FEATURES)
MAX_CLASSES = 100

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_TOKEN_PATTERN = r"(?u)\b\w\w+\b|[?!]|[\u2600-\u27bf\U0001f300-\U0001faff]"  # noqa: S105 - a regular expression, not a secret
_ASKS = re.compile(
    r"^\s*(?:how|what|when|where|why|who|which|can|could|do|does|did|is|are|will|would|should|any|cómo|qué|"
    r"dónde|cuándo|comment|pourquoi|quand|où|wie|wann|warum|wo|come|quando|perché|onde)\b",
    re.IGNORECASE,
)

_word_vectorizer = HashingVectorizer(
    n_features=WORD_FEATURES, ngram_range=(1, 2), token_pattern=_TOKEN_PATTERN, alternate_sign=False, norm="l2"
)
_char_vectorizer = HashingVectorizer(
    n_features=CHAR_FEATURES, analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False, norm="l2"
)
_word_analyzer = _word_vectorizer.build_analyzer()
_FUNCTION_WORDS = frozenset().union(*STOPWORDS.values())


# VADER's general lexicon, adjusted for what people write to a brand: words every support request
# uses carry no feeling there ("please help, support never calls back" is not positive), and a few
# service words and emoji descriptions VADER lacks are negative.
_LEXICON_FOR_BRANDS = {
    "support": 0.0,
    "help": 0.0,
    "helping": 0.0,
    "please": 0.0,
    "outage": -2.0,
    "outages": -2.0,
    "overcharged": -2.0,
    "pouting": -2.5,
    "enraged": -2.8,
    "unacceptable": -2.5,
    "disgraceful": -2.5,
    "shambles": -2.0,
    "rubbish": -1.8,
    "joke": -1.0,  # "your service is a joke"
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_LONG_TEXT = 280


@cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()  # reads its lexicon once per process
    analyzer.lexicon.update(_LEXICON_FOR_BRANDS)
    return analyzer


def prepare(text: str) -> str:
    """The part of a message the classifiers read, with links and handles made generic."""
    text = _URL.sub(" xxurl ", text[:MAX_CHARS])
    return _HANDLE.sub(" xxuser ", text).strip()


def vader_scores(text: str) -> dict[str, float]:
    """VADER's scores; a long text is the mean of its sentences, so length alone does not saturate them."""
    if len(text) <= _LONG_TEXT:
        return _vader().polarity_scores(text)
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()] or [text]
    each = [_vader().polarity_scores(sentence) for sentence in sentences]
    return {key: sum(score[key] for score in each) / len(each) for key in ("neg", "neu", "pos", "compound")}


@dataclass(frozen=True)
class Features:
    texts: list[str]  # as prepared
    vader: list[dict[str, float]]
    matrix: sparse.csr_matrix


def featurize(raw_texts: list[str]) -> Features:
    """Vectorise a batch once for every model: hashed words and bigrams, character n-grams, and a few cues."""
    texts = [prepare(text) for text in raw_texts]
    vader = [vader_scores(text) for text in texts]
    dense = np.array(
        [
            [
                v["compound"],
                v["pos"],
                v["neg"],
                float("?" in text),
                float(bool(_ASKS.match(text))),
                min(text.count("!"), 3) / 3,
                float("xxurl" in text),
            ]
            for text, v in zip(texts, vader, strict=True)
        ],
        dtype=np.float64,
    ).reshape(len(texts), len(DENSE_FEATURES))
    matrix = sparse.hstack(
        [_word_vectorizer.transform(texts), _char_vectorizer.transform(texts), sparse.csr_matrix(dense)],
        format="csr",
    )
    return Features(texts=texts, vader=vader, matrix=matrix)


class ArtifactError(ValueError):
    """A stored model cannot be used (corrupt, built for other features, or not a model at all)."""


@dataclass(frozen=True)
class LinearModel:
    """Weights over the shared feature space: probabilities by softmax of X·Wᵀ + b."""

    task: str
    classes: tuple[str, ...]
    weights: np.ndarray  # (classes, N_FEATURES), float32
    bias: np.ndarray  # (classes,)

    def predict_proba(self, matrix: sparse.csr_matrix) -> np.ndarray:
        logits = np.asarray(matrix @ self.weights.T) + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def top_words(self, features: Features, row: int, class_index: int, limit: int = 3) -> list[str]:
        """The words of one message that pushed it most towards a class, strongest first."""
        by_index: dict[int, str] = {}
        for token in _word_analyzer(features.texts[row]):
            if _telling(token):
                by_index.setdefault(_word_index(token), token)
        weights = self.weights[class_index]
        ranked = sorted(by_index.items(), key=lambda item: -weights[item[0]])
        return [token for index, token in ranked if weights[index] > 0][:limit]

    def to_bytes(self) -> bytes:
        columns = np.flatnonzero(np.any(self.weights != 0, axis=0))
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            task=np.array(self.task),
            feature_spec=np.array(FEATURE_SPEC),
            classes=np.array(self.classes),
            columns=columns.astype(np.int64),
            weights=self.weights[:, columns].astype(np.float32),
            bias=self.bias.astype(np.float64),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, task: str) -> "LinearModel":
        """Read a model written by to_bytes, refusing anything else with ArtifactError. Never unpickles."""
        try:
            return cls._parse(bytes(data), task=task)
        except ArtifactError:
            raise
        except Exception as problem:  # a corrupt or foreign file can fail in many ways; none may stop triage
            raise ArtifactError(f"not a readable model file ({type(problem).__name__}: {problem})") from problem

    @classmethod
    def _parse(cls, data: bytes, *, task: str) -> "LinearModel":
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            if not hasattr(arrays, "files"):
                raise ArtifactError("not a model archive")
            stored_task, spec = str(arrays["task"]), str(arrays["feature_spec"])
            classes, columns, packed, bias = arrays["classes"], arrays["columns"], arrays["weights"], arrays["bias"]
        if stored_task != task:
            raise ArtifactError(f"a {stored_task!r} model, not a {task!r} one")
        if spec != FEATURE_SPEC:
            raise ArtifactError(f"built for features {spec!r}, this code makes {FEATURE_SPEC!r}")
        if classes.ndim != 1 or not 2 <= len(classes) <= MAX_CLASSES or classes.dtype.kind != "U":
            raise ArtifactError(f"its classes must be 2 to {MAX_CLASSES} labels")
        labels = tuple(str(label) for label in classes)
        if len(set(labels)) != len(labels):
            raise ArtifactError("its classes repeat")
        if columns.ndim != 1 or columns.dtype.kind not in "iu" or packed.dtype.kind != "f" or bias.dtype.kind != "f":
            raise ArtifactError("its weights are not numbers of the expected kinds")
        if packed.shape != (len(labels), len(columns)) or bias.shape != (len(labels),):
            raise ArtifactError("its weights do not match its classes")
        if len(columns) and (columns.min() < 0 or columns.max() >= N_FEATURES):
            raise ArtifactError("its weights point outside the feature space")
        if not (np.isfinite(packed).all() and np.isfinite(bias).all()):
            raise ArtifactError("its weights are not finite numbers")
        weights = np.zeros((len(labels), N_FEATURES), dtype=np.float32)
        weights[:, columns] = packed
        return cls(task=task, classes=labels, weights=weights, bias=bias.astype(np.float64))


def _telling(token: str) -> bool:
    """Whether a word or bigram says something to an agent ("refund", "no signal"; not "is it" or a link)."""
    words = token.split()
    if any(word in ("xxurl", "xxuser") for word in words):
        return False
    return any(len(word) > 2 and word not in _FUNCTION_WORDS for word in words)


def sha256(data: bytes) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


@lru_cache(maxsize=2**16)  # bounded: customer text brings endless new words
def _word_index(token: str) -> int:
    # HashingVectorizer's own bucket for a token (murmurhash3, seed 0, absolute value modulo size).
    return abs(murmurhash3_32(token, seed=0)) % WORD_FEATURES


def train(*, task: str, texts: list[str], labels: list[str], strength: float = 4.0) -> LinearModel:
    """Fit a multinomial logistic regression on the shared features; classes weigh equally."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:
        raise ValueError(f"training a {task} model needs at least two different labels")
    features = featurize(texts)
    # SAGA scales with the non-zero features rather than the hashed space: well under a second for the seed set.
    fitted = LogisticRegression(
        C=strength, solver="saga", tol=1e-3, max_iter=300, class_weight="balanced", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the tolerance above is what we ask for
        fitted.fit(features.matrix, labels)
    weights, bias = fitted.coef_, fitted.intercept_
    if len(fitted.classes_) == 2:  # sklearn keeps one row for two classes; spell out both
        weights = np.vstack([-weights[0] / 2, weights[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    return LinearModel(
        task=task, classes=tuple(str(c) for c in fitted.classes_), weights=weights.astype(np.float32), bias=bias
    )


def scores(*, truth: list[str], predicted: list[str]) -> dict[str, float]:
    """Held-out quality: macro-F1 (what decides activation), macro-recall and accuracy."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    return {
        "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        "macro_recall": round(float(recall_score(truth, predicted, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "examples": len(truth),
    }


SENTIMENT_CLASSES = ("negative", "neutral", "positive")
# VADER's compound score as probabilities: neutral wins within ±0.05, the band VADER's authors recommend.
_VADER_STEEPNESS, _VADER_NEUTRAL_BAND = 8.0, 0.05
# Sentiment blends the learned model (our domain) with VADER (general social text). Chosen from a small
# grid as the best on both the seed set's held-out fifth and the development tweets (see README).
LEARNED_SENTIMENT_WEIGHT = 0.6


def vader_probabilities(features: Features) -> np.ndarray:
    """(rows, 3) probabilities over SENTIMENT_CLASSES from VADER's compound score."""
    compound = np.array([v["compound"] for v in features.vader], dtype=np.float64)
    logits = np.stack(
        [
            -_VADER_STEEPNESS * (compound + _VADER_NEUTRAL_BAND),
            np.zeros_like(compound),
            _VADER_STEEPNESS * (compound - _VADER_NEUTRAL_BAND),
        ],
        axis=1,
    )
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def sentiment_probabilities(model: LinearModel, features: Features) -> np.ndarray:
    """(rows, 3) probabilities over SENTIMENT_CLASSES: the learned model blended with VADER."""
    learned = model.predict_proba(features.matrix)
    aligned = np.zeros((learned.shape[0], len(SENTIMENT_CLASSES)))
    for column, label in enumerate(model.classes):
        if label in SENTIMENT_CLASSES:
            aligned[:, SENTIMENT_CLASSES.index(label)] = learned[:, column]
    return LEARNED_SENTIMENT_WEIGHT * aligned + (1 - LEARNED_SENTIMENT_WEIGHT) * vader_probabilities(features)
