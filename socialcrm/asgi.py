"""The one ASGI application Daphne serves: HTTP, and the live inbox's WebSocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialcrm.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

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
