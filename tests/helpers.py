"""What several test modules share that is not a factory: where the recorded fixtures live."""

from pathlib import Path

# Recorded payloads (webhooks, feeds, mailboxes, provider answers), one tree for every test module.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
