import pytest

from tests.factories import make_user


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
