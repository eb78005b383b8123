"""Customers: one record per person, holding every identity they use and what our systems know."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Network(models.TextChoices):
    """Where a person speaks. An identity is unique per network."""

    FACEBOOK = "facebook", "Facebook"
    INSTAGRAM = "instagram", "Instagram"
    X = "x", "X (Twitter)"
    EMAIL = "email", "E-mail"
    FORUM = "forum", "Forum"
    REVIEWS = "reviews", "Review site"
    BLOG = "blog", "Blog"
    WEB = "web", "Web / other"


class Tier(models.TextChoices):
    STANDARD = "standard", "Standard"
    PLUS = "plus", "Plus"
    PREMIUM = "premium", "Premium"
    VIP = "vip", "VIP"


class Customer(models.Model):
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True, help_text="E.164 where known, e.g. +447700900123")
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    external_ref = models.CharField(
        max_length=100, blank=True, help_text="This customer's id in the company's own CRM or shop."
    )
    tags = models.JSONField(default=list, blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_customers",
        help_text="Set when this record was merged into another; its identities and history moved there.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("merge_customer", "Can merge customers and undo merges")]
        constraints = [
            models.CheckConstraint(condition=~Q(merged_into=F("id")), name="customer_not_merged_into_itself"),
            models.CheckConstraint(condition=Q(lifetime_value__gte=0), name="customer_lifetime_value_not_negative"),
            models.UniqueConstraint(
                fields=["external_ref"], condition=~Q(external_ref=""), name="customer_external_ref_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["email"], name="customer_by_email"),
            models.Index(fields=["phone"], name="customer_by_phone"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"Customer {self.pk}"

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


class Identity(models.Model):
    """A customer's account on one network (a handle, a page-scoped id, an e-mail address)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    network = models.CharField(max_length=16, choices=Network.choices)
    external_id = models.CharField(max_length=255, help_text="The network's own id for this account.")
    handle = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    followers = models.PositiveBigIntegerField(default=0)
    verified = models.BooleanField(default=False)
    profile_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "identities"
        ordering = ["network", "handle"]
        constraints = [
            models.UniqueConstraint(fields=["network", "external_id"], name="identity_unique_per_network"),
        ]
        indexes = [models.Index(fields=["network", "handle"], name="identity_by_handle")]

    def __str__(self) -> str:
        label = self.handle or self.display_name or self.external_id
        return f"{label} ({self.get_network_display()})"


class CustomerRecord(models.Model):
    """Something the company's own systems know about a customer: an order, a call, a case."""

    class Kind(models.TextChoices):
        ORDER = "order", "Order"
        CALL = "call", "Call"
        CASE = "case", "Support case"
        SUBSCRIPTION = "subscription", "Subscription"
        NOTE = "note", "Note"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="records")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=50, help_text="The system it came from, e.g. 'shop' or 'zendesk'.")
    external_ref = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=255)
    status = models.CharField(max_length=50, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    occurred_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "external_ref"],
                condition=~Q(external_ref=""),
                name="customer_record_unique_per_source",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="record_customer_timeline")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class CustomerNote(models.Model):
    """What a colleague wants the next one to know about this customer; customers never see it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="customer_notes"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Note on {self.customer} by {self.author}"


class Merge(models.Model):
    """One customer folded into another, with what moved, so that it can be undone."""

    kept = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_in")
    merged = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_out")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    moved = models.JSONField(default=dict, help_text="Ids of what moved to the kept customer, by kind.")
    kept_before = models.JSONField(default=dict, help_text="The kept customer's fields the merge filled in or changed.")
    merged_before = models.JSONField(default=dict, help_text="The merged customer's fields the merge cleared.")
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(kept=F("merged")), name="merge_two_customers")]

    def __str__(self) -> str:
        return f"#{self.merged_id} into #{self.kept_id}"


class NotDuplicate(models.Model):
    """Two customers someone checked and found to be different people; the duplicates list skips them."""

    first = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="not_duplicate_once"),
            models.CheckConstraint(condition=Q(first__lt=F("second")), name="not_duplicate_ordered_pair"),
        ]

    def __str__(self) -> str:
        return f"#{self.first_id} is not #{self.second_id}"
