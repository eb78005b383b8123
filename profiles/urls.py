from django.urls import path

from profiles import views

app_name = "profiles"

urlpatterns = [
    path("", views.search, name="search"),
    path("duplicates", views.duplicates, name="duplicates"),
    path("duplicates/not-duplicate", views.not_duplicate, name="not-duplicate"),
    path("merges/<int:merge_id>/undo", views.undo_merge, name="undo-merge"),
    path("<int:customer_id>/", views.customer, name="customer"),
    path("<int:customer_id>/notes", views.add_note, name="add-note"),
    path("<int:customer_id>/tags", views.set_tags, name="set-tags"),
    path("<int:customer_id>/merge", views.merge, name="merge"),
]
