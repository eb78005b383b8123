"""What managers set up in the app, not in Django admin: canned replies, labels and macros.

One list, one form and one delete for each kind; who may change a kind is the role's model
permission (managers and admins), and an agent is told who sets these up.
"""

import re
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.models import Customer
from inbox.models import VARIABLES, CannedReply, Label, Macro, fill_variables
from triage.models import Queue


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["title", "shortcut", "body", "queue"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}
        help_texts = {"shortcut": "Typed as /shortcut then Tab in the reply box: letters, digits, - and _."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].queryset = Queue.objects.filter(is_active=True)
        self.fields["queue"].empty_label = "Every queue"


class LabelForm(forms.ModelForm):
    class Meta:
        model = Label
        fields = ["name", "color"]
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}

    def clean_color(self) -> str:
        color = self.cleaned_data["color"].strip()
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
            raise forms.ValidationError("Give the colour as #rrggbb, for example #2563eb.")
        return color.lower()


class MacroForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ["name", "reply", "add_labels", "set_priority", "set_status", "move_to_queue", "queue"]
        widgets = {
            "reply": forms.Textarea(attrs={"rows": 5}),
            "add_labels": forms.CheckboxSelectMultiple,
        }
        labels = {"set_priority": "Priority", "set_status": "Status", "move_to_queue": "Move to queue"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = Queue.objects.filter(is_active=True)
        self.fields["move_to_queue"].queryset = self.fields["queue"].queryset = active
        self.fields["move_to_queue"].empty_label = "Stay in its queue"
        self.fields["queue"].empty_label = "Every queue"
        self.fields["set_priority"].choices = [("", "Leave as it is"), *self.fields["set_priority"].choices[1:]]

    def clean(self):
        cleaned = super().clean()
        steps = (
            cleaned.get("reply"),
            cleaned.get("add_labels"),
            cleaned.get("set_priority") is not None,
            cleaned.get("set_status"),
            cleaned.get("move_to_queue"),
        )
        if not any(steps):
            raise forms.ValidationError("A macro does something: give it a reply, a label, or a change to make.")
        return cleaned


@dataclass(frozen=True)
class Kind:
    slug: str
    model: type
    form: type
    title: str  # "Canned replies"
    one: str  # "canned reply"

    def rows(self):
        if self.model is Macro:
            return Macro.objects.select_related("queue", "move_to_queue").prefetch_related("add_labels")
        if self.model is CannedReply:
            return CannedReply.objects.select_related("queue")
        return Label.objects.all()


KINDS = {
    kind.slug: kind
    for kind in (
        Kind("canned-replies", CannedReply, CannedReplyForm, "Canned replies", "canned reply"),
        Kind("labels", Label, LabelForm, "Labels", "label"),
        Kind("macros", Macro, MacroForm, "Macros", "macro"),
    )
}


def _kind(request, slug: str) -> Kind:
    kind = KINDS.get(slug)
    if kind is None:
        raise Http404("No such settings page")
    if not request.user.has_perm(f"inbox.change_{kind.model._meta.model_name}"):
        raise PermissionDenied(f"{kind.title} are set up by managers and admins; ask one to add or change one.")
    return kind


def _context(kind: Kind, **more) -> dict:
    return {"kind": kind, "kinds": KINDS.values(), "variables": VARIABLES, **more}


@require_GET
def home(request):
    """Settings: the first page this person may change, else their own preferences."""
    for kind in KINDS.values():
        if request.user.has_perm(f"inbox.change_{kind.model._meta.model_name}"):
            return redirect("settings-list", slug=kind.slug)
    return redirect("preferences")


@require_GET
def listing(request, slug: str):
    kind = _kind(request, slug)
    return render(request, "settings/list.html", _context(kind, rows=kind.rows()))


@require_http_methods(["GET", "POST"])
def edit(request, slug: str, pk: int | None = None):
    kind = _kind(request, slug)
    instance = get_object_or_404(kind.model, pk=pk) if pk is not None else None
    form = kind.form(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if hasattr(saved, "created_by_id") and saved.created_by_id is None:
            saved.created_by = request.user
        saved.save()
        form.save_m2m()
        messages.success(request, f"Saved the {kind.one} “{saved}”.")
        return redirect("settings-list", slug=kind.slug)
    status = 400 if form.errors else 200
    return render(request, "settings/edit.html", _context(kind, form=form, item=instance), status=status)


@require_POST
def delete(request, slug: str, pk: int):
    kind = _kind(request, slug)
    item = get_object_or_404(kind.model, pk=pk)
    name = str(item)
    item.delete()  # nothing protects one: a deleted label comes off its conversations, a queue's macro goes
    messages.success(request, f"Deleted the {kind.one} “{name}”.")
    return redirect("settings-list", slug=kind.slug)


SAMPLE_CUSTOMER = Customer(name="Dana Scully")


@require_POST
def preview(request):
    """A reply's text as a customer would read it, variables filled in for a sample customer and you."""
    if not any(request.user.has_perm(f"inbox.change_{kind.model._meta.model_name}") for kind in KINDS.values()):
        raise PermissionDenied("Canned replies and macros are set up by managers and admins.")
    body = request.POST.get("body") or request.POST.get("reply") or ""
    filled = fill_variables(body[:10_000], SAMPLE_CUSTOMER, request.user)
    return render(request, "settings/edit.html#preview", {"preview": filled})
