"""Macros: a canned reply and the changes that go with it, applied in one step."""

from django.db import transaction

from inbox.models import Conversation, Macro, fill_variables
from inbox.services.conversations import change_priority, change_status, set_labels
from inbox.services.replies import reply
from inbox.services.triage import change_queue
from socialcrm.errors import Refused


@transaction.atomic
def apply_macro(*, conversation: Conversation, macro: Macro, by) -> Conversation:
    """Reply, add labels, set the priority, move the queue and set the status, as the macro says,
    each through the service one action alone would use (so each is checked and recorded as that
    action). One transaction: if a step is refused (a closed queue, a status it cannot take), no step
    is kept and no reply goes out."""
    if macro.queue_id and macro.queue_id != conversation.queue_id:
        raise Refused(f"The macro “{macro.name}” is for the {macro.queue.name} queue only.")
    if macro.reply:
        text = fill_variables(macro.reply, conversation.customer, by)
        reply(conversation=conversation, text=text, private=conversation.is_private, by=by)
    labels = list(macro.add_labels.all())
    if labels:
        set_labels(conversation=conversation, labels={*conversation.labels.all(), *labels}, by=by)
    if macro.set_priority is not None:
        change_priority(conversation=conversation, priority=macro.set_priority, by=by)
    if macro.move_to_queue_id:
        change_queue(conversation=conversation, queue=macro.move_to_queue, by=by)
    if macro.set_status:
        current = Conversation.objects.values_list("status", flat=True).get(pk=conversation.pk)
        if current != macro.set_status:
            change_status(conversation=conversation, status=macro.set_status, by=by)
    return Conversation.objects.get(pk=conversation.pk)
