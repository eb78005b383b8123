"""Project-wide records that belong to no single app: API tokens for machine clients.

Every bearer token is an ApiToken: a triage client's, and a channel's ingest token (the channel points
at its token). One place issues, hashes, compares, records use of and revokes them.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "scrm_"  # noqa: S105 - a marker that makes leaked tokens easy to spot, not a secret
USE_RECORDED_EVERY = timedelta(minutes=5)


class ApiToken(models.Model):
    """A bearer token for a machine client, limited to one scope. Only its hash is stored."""

    class Scope(models.TextChoices):
        TRIAGE = "triage", "Triage preview"
        INGEST = "ingest", "Channel ingest"
        REPORTS = "reports", "Reports (read the summary)"

    name = models.CharField(max_length=100, help_text="Who or what uses it, e.g. 'routing test harness'.")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="Untick to revoke.")

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.scope})"

    @classmethod
    def issue(cls, *, name: str, scope: str, created_by=None) -> tuple["ApiToken", str]:
        """Create a token and return it with its secret, which is shown this once and never again."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(name=name, scope=scope, token_hash=hash_token(secret), created_by=created_by)
        return token, secret

    @classmethod
    def find(cls, secret: str | None, *, scope: str) -> "ApiToken | None":
        """The active token with this secret and scope, or None."""
        if not secret:
            return None
        token = cls.objects.filter(token_hash=hash_token(secret), scope=scope).first()
        return token if token is not None and token.matches(secret) else None

    def matches(self, secret: str | None) -> bool:
        """Whether the secret is this token's and the token is not revoked, compared in constant time
        (the lookup was by hash; comparing again keeps timing from saying anything about near misses)."""
        return bool(secret) and self.is_active and hmac.compare_digest(self.token_hash, hash_token(secret))

    def record_use(self) -> None:
        """Note that the token was used, to within USE_RECORDED_EVERY: a busy client costs a write every
        few minutes, not one a request."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= USE_RECORDED_EVERY:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


def hash_token(secret: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


class Preferences(models.Model):
    """How one person works: their e-mail signature, the time zone dates are shown in, and where
    focus goes after they resolve or snooze a conversation. (Their name is the user's own.)"""

    class AfterDone(models.TextChoices):
        NEXT = "next", "Open the next conversation in the list"
        LIST = "list", "Go back to the list"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    signature = models.TextField(
        blank=True, max_length=1000, help_text="Added under your e-mail replies (not on social networks)."
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty: the brand's time zone.")
    after_done = models.CharField(max_length=8, choices=AfterDone.choices, default=AfterDone.NEXT)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
