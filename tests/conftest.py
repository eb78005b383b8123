import pytest

from socialcrm.celery import app as celery_app
from tests.factories import make_user


@pytest.fixture(autouse=True, scope="session")
def tasks_run_in_process():
    """Tests run Celery tasks in-process even with REDIS_URL set; the worker has its own tests."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users' passwords are hashed cheaply; the real hasher's cost is the point in production only."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Rate-limit counters and the like start at zero in each test (tests use a Redis DB of their own)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def agent_in_service_queue(db):
    return make_user("sam", role="agent", queues=("service",))


@pytest.fixture
def manager(db):
    return make_user("maria", role="manager")


@pytest.fixture
def agent_client(client, agent_in_service_queue):
    client.force_login(agent_in_service_queue)
    return client
