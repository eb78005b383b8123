"""Who wrote a mention: each author resolved to an Identity on its network, tied to one Customer."""

from collections.abc import Iterable
from dataclasses import replace

from django.db.models import Q
from django.utils import timezone

from customers.models import Customer, Identity
from socialcrm.db import update_rows

_PROFILE_URL_MAX = Identity._meta.get_field("profile_url").max_length

# How an author is looked up: (network, external id).
AuthorKey = tuple[str, str]


def resolve_authors(*, network: str, authors: Iterable) -> dict[str, Identity]:
    """Each author's Identity on the network, tied to a Customer; created where none matches.

    Matches the network identity first, then a customer with the same e-mail, then the same phone;
    creates a customer only when nothing matches. Known identities take the newest handle, name,
    followers and verification. A fixed number of queries per batch, whatever its size. Safe when
    another transaction creates the same author at the same moment: the identity's unique
    constraint decides, and a customer made for the losing side is removed again.

    Returns identities keyed by the author's external id. Call inside a transaction.
    """
    latest: dict = {}
    for author in authors:  # the last word on each author wins, field by field
        earlier = latest.get(author.external_id)
        latest[author.external_id] = author if earlier is None else _merge(earlier, author)
    if not latest:
        return {}
    identities = {i.external_id: i for i in Identity.objects.filter(network=network, external_id__in=latest)}
    _refresh_profiles(identities, latest)

    missing = [author for external_id, author in latest.items() if external_id not in identities]
    if not missing:
        return identities
    owners = _match_customers(missing)
    created_customers = Customer.objects.bulk_create(
        [
            Customer(name=(author.name or author.handle)[:200], email=author.email[:254], phone=author.phone[:40])
            for author in missing
            if author.external_id not in owners
        ]
    )
    new_owners = iter(created_customers)
    for author in missing:
        if author.external_id not in owners:
            owners[author.external_id] = next(new_owners)
    Identity.objects.bulk_create(
        [
            Identity(
                customer=owners[author.external_id],
                network=network,
                external_id=author.external_id,
                handle=author.handle[:255],
                display_name=author.name[:255],
                followers=author.followers or 0,
                verified=bool(author.verified),
                profile_url=author.profile_url if len(author.profile_url) <= _PROFILE_URL_MAX else "",
            )
            for author in missing
        ],
        ignore_conflicts=True,
    )
    stored = Identity.objects.filter(network=network, external_id__in=[a.external_id for a in missing])
    identities.update({identity.external_id: identity for identity in stored})
    # Lost a race for an identity: the customer made for it is nobody's.
    used = {identity.customer_id for identity in identities.values()}
    orphans = [customer.pk for customer in created_customers if customer.pk not in used]
    if orphans:
        Customer.objects.filter(pk__in=orphans).delete()
    return identities


def _merge(earlier, later):
    """The later author description, with what it leaves out (empty or unknown) taken from the earlier one."""
    kept = {
        name: getattr(earlier, name)
        for name in ("handle", "name", "followers", "verified", "email", "phone", "profile_url")
        if getattr(later, name) in ("", None) and getattr(earlier, name) not in ("", None)
    }
    return replace(later, **kept)


def _match_customers(authors: list) -> dict[str, Customer]:
    """Existing customers for new identities: by e-mail first, then by phone."""
    emails = {a.email for a in authors if a.email}
    phones = {a.phone for a in authors if a.phone}
    if not emails and not phones:
        return {}
    candidates = Customer.objects.filter(merged_into__isnull=True).filter(Q(email__in=emails) | Q(phone__in=phones))
    by_email, by_phone = {}, {}
    for customer in candidates.order_by("pk"):
        if customer.email:
            by_email.setdefault(customer.email.lower(), customer)
        if customer.phone:
            by_phone.setdefault(customer.phone, customer)
    owners = {}
    for author in authors:
        owner = by_email.get(author.email) or by_phone.get(author.phone)
        if owner is not None:
            owners[author.external_id] = owner
    return owners


def _refresh_profiles(identities: dict[str, Identity], latest: dict) -> None:
    changed, now = [], timezone.now()
    for external_id, identity in identities.items():
        author = latest[external_id]
        before = (identity.handle, identity.display_name, identity.followers, identity.verified, identity.profile_url)
        identity.handle = author.handle or identity.handle
        identity.display_name = author.name or identity.display_name
        identity.followers = identity.followers if author.followers is None else author.followers
        identity.verified = identity.verified if author.verified is None else author.verified
        identity.profile_url = author.profile_url or identity.profile_url
        if before != (
            identity.handle,
            identity.display_name,
            identity.followers,
            identity.verified,
            identity.profile_url,
        ):
            identity.updated_at = now
            changed.append(identity)
    if changed:
        update_rows(changed, ["handle", "display_name", "followers", "verified", "profile_url", "updated_at"])
