"""The customer, whole: search, the full page with its timeline, notes, tags, merges and duplicates."""

from django.contrib import messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.models import Merge, NotDuplicate, Tier
from profiles import services
from profiles.selectors import (
    access_customer,
    customer_history,
    customer_timeline,
    customers_visible_to,
    likely_duplicate_groups,
    search_customers,
    sentiment_by_month,
    undoable_merges,
)
from socialcrm.db import parse_id
from socialcrm.errors import Refused
from socialcrm.roles import is_supervisor

MERGE_PERMISSION = "customers.merge_customer"
SEARCH_LIMIT = 25


@require_GET
def search(request):
    """Find a customer by name, e-mail, phone, reference, handle or number."""
    query = request.GET.get("q", "").strip()
    results = search_customers(request.user, query, limit=SEARCH_LIMIT)
    context = {
        "query": query,
        "results": results,
        "more": len(results) == SEARCH_LIMIT,
        "may_merge": may_merge(request.user),
    }
    return render(request, "profiles/search.html", context)


@require_GET
def customer(request, customer_id: int):
    """Everything about one customer; with htmx, only the next page of the timeline."""
    customer = access_customer(request.user, customer_id)
    if customer.merged_into_id:
        messages.info(request, f"Customer #{customer.pk} was merged into this one.")
        return redirect("profiles:customer", customer_id=customer.merged_into_id)
    if request.htmx and request.htmx.target == "timeline-more":
        entries, older = customer_timeline(request.user, customer, before=request.GET.get("before", ""))
        context = {"customer": customer, "entries": entries, "older": older, "focus_first": True}
        return render(request, "profiles/customer.html#timeline-entries", context)
    return _customer_page(request, customer)


def _customer_page(request, customer, *, status: int = 200, **typed):
    """The whole page; `typed` carries back what the user typed into a form that was refused."""
    try:
        entries, older = customer_timeline(request.user, customer, before=request.GET.get("before", ""))
    except Refused as problem:
        messages.error(request, str(problem))
        entries, older = customer_timeline(request.user, customer)
    months = sentiment_by_month(request.user, customer)
    context = {
        "customer": customer,
        "entries": entries,
        "older": older,
        "identities": customer.identities.all(),
        "notes": customer.notes.select_related("author")[:50],
        "history": customer_history(customer),
        "undoable": undoable_merges(customer),
        "months": months,
        "chart": {
            "labels": [month.month.strftime("%b %Y") for month in months],
            "positive": [month.positive for month in months],
            "neutral": [month.neutral for month in months],
            "negative": [month.negative for month in months],
        },
        "may_merge": may_merge(request.user),
        "tags_value": ", ".join(customer.tags),
        **typed,
    }
    return render(request, "profiles/customer.html", context, status=status)


@require_POST
def add_note(request, customer_id: int):
    customer = access_customer(request.user, customer_id)
    if not request.user.has_perm("customers.add_customernote"):
        raise PermissionDenied
    text = request.POST.get("text", "")
    try:
        services.add_customer_note(customer=customer, author=request.user, text=text)
    except Refused as problem:
        messages.error(request, f"Note not added. {problem}")
        return _customer_page(request, customer, status=400, note_value=text)
    messages.success(request, "Note added.")
    return redirect(reverse("profiles:customer", args=[customer.pk]) + "#notes")


@require_POST
def set_tags(request, customer_id: int):
    customer = access_customer(request.user, customer_id)
    if not request.user.has_perm("customers.change_customer"):
        raise PermissionDenied
    typed = request.POST.get("tags", "")
    try:
        tags = services.parse_tags(typed)
        services.set_tags(customer=customer, tags=tags, by=request.user)
    except Refused as problem:
        messages.error(request, f"Tags not changed. {problem}")
        return _customer_page(request, customer, status=400, tags_value=typed)
    messages.success(request, "Tags saved." if tags else "Tags removed.")
    return redirect("profiles:customer", customer_id=customer.pk)


def may_merge(user) -> bool:
    """Merging needs the permission and a supervisor's view of every customer: a merge moves all of both."""
    return is_supervisor(user) and user.has_perm(MERGE_PERMISSION)


def _merge_door(request, customer_id):
    """The customer, if the user may see them and merge customers (404 and 403 otherwise)."""
    customer = access_customer(request.user, customer_id)
    if not may_merge(request.user):
        raise PermissionDenied
    return customer


@require_http_methods(["GET", "POST"])
def merge(request, customer_id: int):
    """Confirm, then fold another customer (?other=id) into this one."""
    keep = _merge_door(request, customer_id)
    typed = (request.GET.get("other") or request.POST.get("other", "")).strip()
    other_id = parse_id(typed.lstrip("#").strip())
    other = customers_visible_to(request.user).filter(pk=other_id).first() if other_id is not None else None
    if other is None or other == keep:
        if not typed:
            problem = "Say which customer to merge into this one: their number, shown as #123."
        elif other is None:
            problem = f"There is no customer {typed!r}: give their number, shown as #123."
        else:
            problem = f"That is this customer (#{keep.pk}): give the number of the other record."
        messages.error(request, problem)
        return redirect("profiles:customer", customer_id=keep.pk)
    if request.method == "POST":
        try:
            record = services.merge_customers(keep=keep, merge=other, by=request.user)
        except Refused as problem:
            messages.error(request, str(problem))
        else:
            messages.success(request, f"Merged #{other.pk} ({other}) into #{keep.pk}: {_moved(record.moved)}.")
        return redirect("profiles:customer", customer_id=keep.pk)
    return render(
        request,
        "profiles/merge.html",
        {
            "keep": keep,
            "other": other,
            "marked_different": NotDuplicate.objects.filter(
                first_id=min(keep.pk, other.pk), second_id=max(keep.pk, other.pk)
            ).exists(),
            "rows": _merge_review(keep, other),
        },
    )


def _merge_review(keep, other) -> list[tuple[str, tuple]]:
    """(what, the kept record's, the other's, the kept record's after the merge), field by field."""
    after = services.merged_details(keep, other)
    tier = dict(Tier.choices)

    def money(value) -> str:
        return f"{value:,.2f}"

    identities = [list(person.identities.all()) for person in (keep, other)]
    counts = [(person.conversations.count(), person.records.count()) for person in (keep, other)]
    return [
        ("Name", (keep.name, other.name, after["name"])),
        ("E-mail", (keep.email, other.email, after["email"])),
        ("Phone", (keep.phone, other.phone, after["phone"])),
        ("Our reference", (keep.external_ref, other.external_ref, after["external_ref"])),
        ("Tier", (tier[keep.tier], tier[other.tier], tier[after["tier"]])),
        ("Lifetime value", (money(keep.lifetime_value), money(other.lifetime_value), money(after["lifetime_value"]))),
        ("Tags", (", ".join(keep.tags), ", ".join(other.tags), ", ".join(after["tags"]))),
        ("Identities", (identities[0], identities[1], identities[0] + identities[1])),
        ("Conversations", (counts[0][0], counts[1][0], counts[0][0] + counts[1][0])),
        ("Records", (counts[0][1], counts[1][1], counts[0][1] + counts[1][1])),
    ]


def _moved(moved: dict[str, list[int]]) -> str:
    """'2 identities, 1 conversation, 3 records' from what a merge moved (its history rows left out)."""
    names = {"identities": "identity", "conversations": "conversation", "records": "record", "notes": "note"}
    parts = [
        f"{len(moved[key])} {singular if len(moved[key]) == 1 else key}"
        for key, singular in names.items()
        if moved.get(key)
    ]
    return ", ".join(parts) or "nothing to move"


@require_POST
def undo_merge(request, merge_id: int):
    record = get_object_or_404(Merge, pk=merge_id)
    keep = _merge_door(request, record.kept_id)
    try:
        services.undo_merge(merge=record, by=request.user)
    except Refused as problem:
        messages.error(request, str(problem))
    else:
        messages.success(
            request, f"Merge undone: #{record.merged_id} ({record.merged}) is a customer of their own again."
        )
    return redirect("profiles:customer", customer_id=keep.pk)


@require_GET
def duplicates(request):
    """Customers who are probably one person, in groups, to merge or to mark as different people."""
    if not may_merge(request.user):
        raise PermissionDenied
    return render(request, "profiles/duplicates.html", {"groups": likely_duplicate_groups(request.user)})


@require_POST
def not_duplicate(request):
    if not may_merge(request.user):
        raise PermissionDenied
    ids = [parse_id(value) for value in request.POST.getlist("ids")]
    pair = list(customers_visible_to(request.user).filter(pk__in=[pk for pk in ids if pk is not None]))
    if len(ids) != 2 or len(pair) != 2:
        raise BadRequest("Choose two customers.")
    services.mark_not_duplicate(first=pair[0], second=pair[1], by=request.user)
    messages.success(request, f"Noted: #{pair[0].pk} ({pair[0]}) and #{pair[1].pk} ({pair[1]}) are different people.")
    return redirect("profiles:duplicates")
