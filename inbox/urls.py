from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox, name="home"),
    path("placement", views.placement, name="placement"),
    path("conversations/<int:conversation_id>/", views.conversation, name="conversation"),
    path("conversations/<int:conversation_id>/queue", views.move_queue, name="move-queue"),
    path("messages/<int:message_id>/triage", views.correct_triage, name="correct-triage"),
    path("conversations/<int:conversation_id>/assign", views.assign, name="assign"),
    path("conversations/<int:conversation_id>/status", views.set_status, name="set-status"),
    path("conversations/<int:conversation_id>/notes", views.add_note, name="add-note"),
    path("conversations/<int:conversation_id>/reply", views.send_reply, name="reply"),
    path("conversations/<int:conversation_id>/macro", views.apply_macro, name="apply-macro"),
    path("messages/<int:message_id>/retry", views.retry_reply, name="retry-reply"),
    path("conversations/<int:conversation_id>/priority", views.edit_priority_and_labels, name="edit-priority"),
    path("next", views.get_next, name="get-next"),
    path("board", views.board, name="board"),
    path("bulk", views.bulk, name="bulk"),
]
