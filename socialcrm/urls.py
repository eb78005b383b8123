from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from inbox import api, setup
from inbox.connectors import meta, x
from reports import api as reports_api
from socialcrm import views
from socialcrm.preferences import preferences_page
from triage import api as triage_api

# The admin signs in through allauth, so an admin's second factor is asked for there too.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "socialcrm administration"
admin.site.site_title = "socialcrm admin"

handler400 = "socialcrm.errors.handler400"
handler403 = "socialcrm.errors.handler403"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox:home", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (a file download, an old admin page).
    path("favicon.ico", views.favicon, name="favicon"),
    path("inbox/", include("inbox.urls")),
    path("customers/", include("profiles.urls")),
    path("reports/", include("reports.urls")),
    path("api/v1/openapi.json", api.openapi, name="api-openapi"),
    path("api/v1/docs", views.api_docs, name="api-docs"),
    path("api/v1/channels/<slug:slug>/mentions", api.ingest_mentions, name="api-ingest"),
    path("api/v1/messages/<int:message_id>", api.message_detail, name="api-message"),
    path("api/v1/triage/preview", triage_api.preview, name="api-triage-preview"),
    path("api/v1/reports/summary", reports_api.summary, name="api-reports-summary"),
    path("webhooks/meta/<slug:slug>", meta.webhook, name="webhook-meta"),
    path("webhooks/x/<slug:slug>", x.webhook, name="webhook-x"),
    path("accounts/sign-out-everywhere", views.sign_out_everywhere, name="sign-out-everywhere"),
    path("settings/preferences", preferences_page, name="preferences"),
    path("settings/", setup.home, name="settings"),
    path("settings/preview", setup.preview, name="settings-preview"),
    path("settings/<slug:slug>/", setup.listing, name="settings-list"),
    path("settings/<slug:slug>/new", setup.edit, name="settings-new"),
    path("settings/<slug:slug>/<int:pk>/", setup.edit, name="settings-edit"),
    path("settings/<slug:slug>/<int:pk>/delete", setup.delete, name="settings-delete"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
