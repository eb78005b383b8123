"""Project-wide records that belong to no single app: API tokens for machine clients."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models

TOKEN_PREFIX = "scrm_"  # noqa: S105 - a marker that makes leaked tokens easy to spot, not a secret


class ApiToken(models.Model):
    """A bearer token for a machine client, limited to one scope. Only its hash is stored."""

    class Scope(models.TextChoices):
        TRIAGE = "triage", "Triage preview"

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
        token = cls.objects.filter(token_hash=hash_token(secret), scope=scope, is_active=True).first()
        # The lookup is by hash; compare again in constant time so timing says nothing about near misses.
        if token is None or not hmac.compare_digest(token.token_hash, hash_token(secret)):
            return None
        return token


def hash_token(secret: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()
