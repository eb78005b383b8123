"""Admin offers only settings something reads: a field nothing implements yet is not shown as if it worked."""

import pytest

from tests.factories import ensure_migrated_data

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("page", "unread", "offered"),
    [
        ("/admin/triage/queue/add/", "assignment_mode", "sla_policy"),  # automatic assignment comes later
        ("/admin/inbox/channel/add/", "listening_keywords", "default_queue"),  # listening queries come later
    ],
)
def test_a_setting_nothing_reads_is_not_offered(admin_client, page, unread, offered):
    ensure_migrated_data()
    html = admin_client.get(page).content.decode()
    assert f'name="{offered}"' in html
    assert f'name="{unread}"' not in html
