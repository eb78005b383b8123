import pytest
from django.conf import settings


@pytest.mark.django_db
def test_healthz_reports_database_and_channel_layer_without_login(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["channel_layer"]["ok"] is True
    expected_layer = "RedisPubSubChannelLayer" if settings.REDIS_URL else "InMemoryChannelLayer"
    assert body["channel_layer"]["backend"] == expected_layer


@pytest.mark.django_db
def test_healthz_leaks_no_secrets(client):
    text = client.get("/healthz").content.decode()

    assert settings.SECRET_KEY not in text
    for secret in filter(None, [settings.DATABASES["default"].get("PASSWORD"), settings.REDIS_URL]):
        assert secret not in text
    assert "127.0.0.1" not in text


@pytest.mark.django_db
def test_healthz_is_503_when_the_channel_layer_is_unreachable(client, settings):
    # A real Redis client pointed at a port where nothing listens.
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["channel_layer"]["ok"] is False
    assert response.json()["database"]["ok"] is True


def test_healthz_refuses_other_methods(client, db):
    assert client.post("/healthz").status_code == 405
