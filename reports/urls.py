from django.urls import path

from reports import views
from reports.figures import GROUPS

app_name = "reports"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("export.csv", views.export_csv, name="export"),
    *(path(f"{group}s/", views.breakdown, {"group": group}, name=f"by-{group}") for group in GROUPS),
]
