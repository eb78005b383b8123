"""Admins' routing rules: validated on save, compiled once per change, bounded in time."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PASSWORD, make_user
from triage.models import Priority, Queue, RoutingRule, TriageSettings
from triage.pipeline import Item, decide
from triage.routing import current_config
from triage.scoring import Author

pytestmark = pytest.mark.django_db


def rule_form(**fields) -> dict:
    return {
        "name": "Broken screens",
        "position": 1,
        "is_active": "on",
        "keywords": "",
        "pattern": "",
        "language": "",
        "add_labels": "",
        "set_queue": Queue.objects.get(slug="product").pk,
        **fields,
    }


def test_an_invalid_regex_is_refused_in_admin_with_a_clear_error_and_not_saved(admin_client):
    before = RoutingRule.objects.count()

    response = admin_client.post("/admin/triage/routingrule/add/", rule_form(pattern="screen(cracked"))

    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    assert RoutingRule.objects.count() == before


def test_a_valid_rule_saved_in_admin_routes_the_next_message(admin_client):
    response = admin_client.post(
        "/admin/triage/routingrule/add/",
        rule_form(pattern=r"screen\s+(cracked|broken)", position=1, stop_processing="on"),
    )
    assert response.status_code == 302

    decision = decide([Item(text="My screen  cracked after two days, furious")])[0]

    assert decision.queue_slug == "product" and decision.rule_name == "Broken screens"


def test_a_rule_without_any_action_is_refused(admin_client):
    form = rule_form()
    form.pop("set_queue")

    response = admin_client.post("/admin/triage/routingrule/add/", form)

    assert "needs at least one action" in response.content.decode()


def test_a_catastrophically_backtracking_pattern_is_cut_short_and_the_message_still_routed():
    RoutingRule.objects.create(
        name="Evil", position=0, pattern=r"(a|aa)+$", set_queue=Queue.objects.get(slug="pr"), stop_processing=True
    )
    text = "my bill is wrong, why was I charged twice? " + "a" * 60 + "b"

    started = time.perf_counter()
    decision = decide([Item(text=text)])[0]

    assert time.perf_counter() - started < 2
    assert decision.queue_slug == "service"  # the next rules decided
    assert "'Evil' timed out" in decision.explanation
    assert decision.scores["timed_out_rules"] == ["Evil"]


def test_rules_are_compiled_once_per_change_not_per_message():
    current_config()
    with CaptureQueriesContext(connection) as queries:
        decide([Item(text="hello")])
        decide([Item(text="hello again")])
    assert not [q for q in queries.captured_queries if "routingrule" in q["sql"]]

    rule = RoutingRule.objects.get(name="Compliments")
    rule.set_queue = Queue.objects.get(slug="product")
    rule.save()

    assert decide([Item(text="You are the best, thank you so much!")])[0].queue_slug == "product"


def test_rules_run_in_order_and_stop_ends_the_evaluation():
    RoutingRule.objects.all().delete()
    sales, product = Queue.objects.get(slug="sales"), Queue.objects.get(slug="product")
    RoutingRule.objects.create(name="Label only", position=1, keywords="router", add_labels="hardware")
    RoutingRule.objects.create(name="First queue", position=2, keywords="router", set_queue=sales, stop_processing=True)
    RoutingRule.objects.create(name="Never reached", position=3, keywords="router", set_queue=product, add_labels="x")

    decision = decide([Item(text="Is the new router any good?")])[0]

    assert decision.queue_slug == "sales" and decision.rule_name == "First queue"
    assert decision.labels == ["hardware"]


def test_conditions_on_network_language_tier_and_privacy():
    RoutingRule.objects.all().delete()
    vip = RoutingRule.objects.create(
        name="Private Spanish VIPs",
        network="x",
        language="es",
        customer_tier="vip",
        visibility="private",
        set_queue=Queue.objects.get(slug="sales"),
        set_priority=Priority.URGENT,
    )
    text = "Hola, quiero saber dónde está mi pedido"
    matching = Item(text=text, network="x", is_private=True, author=Author(tier="vip"))

    assert decide([matching])[0].rule_name == vip.name
    assert decide([matching])[0].priority == Priority.URGENT
    for other in (
        Item(text=text, network="facebook", is_private=True, author=Author(tier="vip")),
        Item(text="Hello, where is my order", network="x", is_private=True, author=Author(tier="vip")),
        Item(text=text, network="x", is_private=True, author=Author(tier="standard")),
        Item(text=text, network="x", is_private=False, author=Author(tier="vip")),
    ):
        assert decide([other])[0].rule_name != vip.name


def test_influence_bands_follow_the_admins_settings():
    author = Author(followers=500)
    assert decide([Item(text="hi", author=author)])[0].influence_band == "low"

    settings = TriageSettings.load()
    settings.medium_band_from, settings.high_band_from = 0.02, 0.04
    settings.save()

    assert decide([Item(text="hi", author=author)])[0].influence_band == "high"


def test_triage_settings_refuse_bands_out_of_order(admin_client):
    settings = TriageSettings.load()
    url = f"/admin/triage/triagesettings/{settings.pk}/change/"
    form = {
        name: getattr(settings, name)
        for name in (
            "followers_weight",
            "followers_for_full_score",
            "verified_weight",
            "tier_weight",
            "value_weight",
            "value_for_full_score",
            "interactions_weight",
            "interactions_for_full_score",
            "retrain_after_corrections",
        )
    }
    form |= {"tier_scores": '{"vip": 1}', "medium_band_from": 0.7, "high_band_from": 0.5}

    response = admin_client.post(url, form)

    assert "Bands need" in response.content.decode()
    assert TriageSettings.load().high_band_from == 0.6

    response = admin_client.post(url, form | {"tier_scores": '{"gold": 1}', "medium_band_from": 0.2})
    assert "Unknown tier" in response.content.decode()


def test_the_try_box_runs_the_rules_on_pasted_text_and_stores_nothing(admin_client):
    from triage.models import TriageDecision

    page = admin_client.get("/admin/triage/routingrule/")
    assert "Try these rules" in page.content.decode()

    response = admin_client.post(
        "/admin/triage/routingrule/try/",
        {"texts": "How much is the unlimited plan?\n<script>alert(1)</script> you are awful", "followers": 0},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Purchase intent" in body and "sales" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert not TriageDecision.objects.exists()


def test_agents_cannot_use_the_try_box(client):
    make_user("sam", role="agent")
    client.login(username="sam", password=PASSWORD)

    response = client.post("/admin/triage/routingrule/try/", {"texts": "hi"})

    assert response.status_code == 302  # to the admin's sign-in: the admin is for staff
    assert response.headers["Location"].startswith("/admin/login/?next=/admin/triage/routingrule/try/")
