"""One caller of the triage preview cannot hold the web process: its size is capped, and the
triage runs beside the other requests rather than in the one thread Django's sync views share."""

import asyncio
import json
import time

import pytest
from django.test import AsyncClient

from tests.factories import ensure_migrated_data
from tests.helpers import PREVIEW_URL, post_preview
from triage import api as triage_api
from triage.learning import ensure_seed_versions
from triage.pipeline import decide


@pytest.mark.django_db
def test_a_request_of_4_6_mb_of_text_is_refused_before_any_triage(client, triage_token):
    items = [{"text": "My phone died after the update. " * 140}] * 1000  # 4.6 MB, the campaign's request

    started = time.perf_counter()
    response = post_preview(client, {"items": items}, triage_token)

    assert response.status_code == 400
    assert "at most 250,000" in response.json()["error"]
    assert time.perf_counter() - started < 2  # refused on its size, not after 16 s of triage


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_while_a_full_preview_is_being_triaged(triage_token, monkeypatch):
    ensure_migrated_data()
    ensure_seed_versions()
    body = json.dumps(
        {"items": [{"text": f"Order {n} never came and support hung up on me. " * 200} for n in range(25)]}
    )

    def slow_decide(items):  # a long triage that leaves the CPU free, so only where it runs is measured
        time.sleep(1.5)
        return decide(items)

    monkeypatch.setattr(triage_api, "decide", slow_decide)
    client = AsyncClient()

    async def race():
        finished = {}

        async def preview():
            response = await client.post(
                PREVIEW_URL, body, content_type="application/json", headers={"Authorization": f"Bearer {triage_token}"}
            )
            finished["preview"] = time.perf_counter()
            return response

        async def health():
            await asyncio.sleep(0.2)  # the preview is being triaged by now
            response = await client.get("/healthz")
            finished["healthz"] = time.perf_counter()
            return response

        answers = await asyncio.gather(preview(), health())
        return answers, finished

    (preview_answer, health_answer), finished = asyncio.run(race())

    assert preview_answer.status_code == 200 and len(preview_answer.json()["items"]) == 25
    assert health_answer.status_code == 200
    assert finished["healthz"] < finished["preview"], "/healthz waited for the preview to finish"
