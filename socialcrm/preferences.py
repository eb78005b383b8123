"""Each person's preferences (socialcrm.models.Preferences): the page that sets them, and the
middleware that shows every date in their time zone.

What a page needs of them rides in the session (set at sign-in and on saving), so no request pays a
query for them; a session from before they existed reads them once.
"""

from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.deprecation import MiddlewareMixin

from socialcrm.models import Preferences

SESSION_KEY = "preferences"
TIME_ZONES = sorted(available_timezones() - {"Factory", "localtime"})


def _for_session(preferences: Preferences | None) -> dict:
    return {
        "time_zone": (preferences.time_zone if preferences else "") or settings.BRAND_TIME_ZONE,
        "after_done": preferences.after_done if preferences else Preferences.AfterDone.NEXT,
    }


def _remember(request, preferences: Preferences | None) -> dict:
    request.session[SESSION_KEY] = chosen = _for_session(preferences)
    return chosen


@receiver(user_logged_in)
def _load_at_sign_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        _remember(request, Preferences.objects.filter(user=user).first())


class PreferencesMiddleware(MiddlewareMixin):
    """Dates in the signed-in person's time zone; `request.preferences` for the pages.
    (MiddlewareMixin keeps the chain usable by async views: see socialcrm.errors.BadRequestMiddleware.)"""

    def process_request(self, request) -> None:
        chosen = None
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            chosen = request.session.get(SESSION_KEY)
            if chosen is None:
                chosen = _remember(request, Preferences.objects.filter(user=request.user).first())
        request.preferences = chosen or _for_session(None)
        timezone.activate(ZoneInfo(request.preferences["time_zone"]))

    def process_response(self, request, response):
        timezone.deactivate()
        return response


def context(request) -> dict:
    """The template context processor: `preferences` (time_zone, after_done)."""
    return {"preferences": getattr(request, "preferences", None) or _for_session(None)}


class PreferencesForm(forms.ModelForm):
    first_name = forms.CharField(max_length=150, required=False, label="First name")
    last_name = forms.CharField(max_length=150, required=False, label="Last name")
    time_zone = forms.ChoiceField(
        required=False,
        label="Time zone",
        help_text="Every date and time is shown in it.",
    )

    class Meta:
        model = Preferences
        fields = ["first_name", "last_name", "time_zone", "after_done", "signature"]
        labels = {"after_done": "After Resolve or Snooze"}
        widgets = {"after_done": forms.RadioSelect, "signature": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["first_name"].initial, self.fields["last_name"].initial = user.first_name, user.last_name
        brand = f"The brand's: {settings.BRAND_TIME_ZONE}"
        self.fields["time_zone"].choices = [("", brand), *((zone, zone.replace("_", " ")) for zone in TIME_ZONES)]

    def clean_signature(self) -> str:
        return self.cleaned_data["signature"].replace("\r\n", "\n").strip()

    def save(self, commit: bool = True) -> Preferences:
        self.instance.user = self.user
        self.user.first_name = self.cleaned_data["first_name"].strip()
        self.user.last_name = self.cleaned_data["last_name"].strip()
        self.user.save(update_fields=["first_name", "last_name"])
        return super().save(commit)


def preferences_page(request):
    """Your preferences: name, time zone, where focus goes after Resolve or Snooze, e-mail signature."""
    mine = Preferences.objects.filter(user=request.user).first() or Preferences(user=request.user)
    form = PreferencesForm(request.POST or None, instance=mine, user=request.user)
    if request.method == "POST" and form.is_valid():
        _remember(request, form.save())
        messages.success(request, "Your preferences are saved.")
        return redirect("preferences")
    return render(request, "preferences.html", {"form": form}, status=400 if form.errors else 200)
