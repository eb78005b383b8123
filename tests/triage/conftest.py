import pytest

from triage.learning import forget_loaded_models


@pytest.fixture(autouse=True)
def models_load_afresh():
    """Each test sees the models its database holds, not ones an earlier test loaded into this process."""
    forget_loaded_models()
    yield
    forget_loaded_models()
