from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from socialcrm import views

# The admin signs in through allauth, so an admin's second factor is asked for there too.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "socialcrm administration"
admin.site.site_title = "socialcrm admin"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox:home", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("inbox/", include("inbox.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
