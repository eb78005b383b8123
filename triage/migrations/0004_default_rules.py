from django.db import migrations

PRESS_WORDS = (
    "journalist, reporter, press office, press enquiry, press inquiry, media enquiry, media inquiry, for comment, "
    "interview request, newspaper, podcast, lawsuit, lawyer, solicitor, attorney, legal action, regulator, ombudsman, "
    "trading standards, class action, data breach"
)
PURCHASE_WORDS = (
    "price, pricing, how much, quote, buy, purchase, deal, discount, offer, upgrade, switch to, switching to, "
    "sign up, subscribe, business account, in stock, trade-in, trade in"
)
CAMPAIGN_WORDS = "giveaway, contest, competition, sweepstakes, #ad, sponsored, campaign, commercial, advert, promo"

# name, conditions, (queue slug, priority, labels)
DEFAULT_RULES = [
    ("Press and legal", {"keywords": PRESS_WORDS}, ("pr", 2, "press")),
    ("Influencer complaints", {"sentiment": "negative", "min_influence_band": "high"}, ("pr", 3, "influencer")),
    ("Purchase intent", {"message_type": "lead"}, ("sales", None, "")),
    ("Complaints", {"message_type": "complaint"}, ("service", None, "")),
    ("Buying questions", {"message_type": "question", "keywords": PURCHASE_WORDS}, ("sales", None, "")),
    ("Questions", {"message_type": "question"}, ("service", None, "")),
    ("Feedback and ideas", {"message_type": "feedback"}, ("product", None, "")),
    ("Compliments", {"message_type": "compliment"}, ("marketing", None, "")),
    ("Campaign chatter", {"keywords": CAMPAIGN_WORDS}, ("marketing", None, "campaign")),
]


def create_default_rules(apps, schema_editor):
    RoutingRule = apps.get_model("triage", "RoutingRule")
    Queue = apps.get_model("triage", "Queue")
    TriageSettings = apps.get_model("triage", "TriageSettings")
    TriageSettings.objects.get_or_create(pk=1)
    if RoutingRule.objects.exists():  # an admin already wrote rules: leave them alone
        return
    queues = {queue.slug: queue for queue in Queue.objects.all()}
    for position, (name, conditions, (slug, priority, labels)) in enumerate(DEFAULT_RULES, start=1):
        if slug not in queues:
            continue
        RoutingRule.objects.create(
            name=name,
            position=position * 10,
            set_queue=queues[slug],
            set_priority=priority,
            add_labels=labels,
            stop_processing=True,
            **conditions,
        )


class Migration(migrations.Migration):
    dependencies = [("triage", "0003_triage_signals")]

    operations = [migrations.RunPython(create_default_rules, migrations.RunPython.noop)]
