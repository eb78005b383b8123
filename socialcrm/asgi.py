"""The one ASGI application Daphne serves: HTTP, and the live inbox's WebSocket."""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialcrm.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from asgiref.sync import sync_to_async  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from inbox.consumers import InboxConsumer  # noqa: E402
from socialcrm.origins import SiteOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A socket from a page of another origin (scheme, host and port) is refused before it is
        # accepted; the session cookie then names the user, and the consumer refuses anyone not signed in.
        "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter([path("ws/inbox/", InboxConsumer.as_asgi())]))),
    }
)


class WithSchedule:
    """Beat's schedule inside this process, started by the first request: the embedded default's way
    (`make run` without Redis sets SOCIALCRM_SCHEDULE_IN_WEB), since its channel layer is this
    process's memory and a scheduled task's live events must reach these sockets."""

    def __init__(self, app):
        self.app, self.task = app, None

    async def __call__(self, scope, receive, send):
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        return await self.app(scope, receive, send)

    async def _run(self) -> None:
        from socialcrm.schedule import Schedule

        schedule = Schedule()
        while True:
            await sync_to_async(schedule.run_due)()  # the thread requests use: one writer to SQLite at a time
            await asyncio.sleep(1)


if os.environ.get("SOCIALCRM_SCHEDULE_IN_WEB") == "1":
    application = WithSchedule(application)
