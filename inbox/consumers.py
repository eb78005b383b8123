"""The live inbox socket: pushes events to a signed-in agent, and takes their presence (viewing, typing).

What a socket listens to is decided on the server from the user (inbox.live.groups_for_user), never
from anything the browser sends. The browser may send only small JSON messages of a few known
types; anything else (binary, oversized, not JSON, an unknown type) closes the socket with a code
of CloseCode, and nothing the browser sends is ever used to pick a method or a group.
"""

import asyncio
import logging
import time
from collections import deque
from enum import IntEnum

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import HASH_SESSION_KEY
from django.template.loader import render_to_string
from django.utils.crypto import constant_time_compare

from inbox import live, presence
from socialcrm.db import parse_id
from socialcrm.payloads import UnreadableJSON, loads_untrusted

MAX_FRAME = 2048  # characters; a presence message is under 100
BURST, BURST_SECONDS = 30, 10.0  # presence messages a socket may send in that long; more are ignored
RECHECK_SECONDS = 60.0  # an expired session, or a change to the person no signal told of, ends a socket this soon
logger = logging.getLogger(__name__)


class CloseCode(IntEnum):
    """Why the server closed a socket: the code the browser gets, which tells static/js/live.js whether
    to connect again (README "Live" has the table). All in 4000-4999, the application's range: Daphne's
    WebSocket library refuses RFC 6455's own codes (1003, 1007, 1009) from an application."""

    BINARY_FRAME = 4003  # the page sends only text (RFC 1003, moved into the application's range)
    INVALID_MESSAGE = 4007  # not JSON, or a field of the wrong form (RFC 1007, likewise)
    TOO_BIG = 4009  # over MAX_FRAME characters (RFC 1009, likewise)
    UNKNOWN_MESSAGE = 4400  # JSON, but not a type this socket takes
    NOT_SIGNED_IN = 4401  # no session, or it expired
    SIGNED_OUT = 4403  # signed out, new password, deactivated, or the session is no longer this person's


class InboxConsumer(AsyncWebsocketConsumer):
    groups = []  # never the class-level auto-join: every group is chosen in connect
    closed_with: CloseCode | None = None  # set once the server has closed the socket

    async def connect(self):
        user = self.scope.get("user")
        session = self.scope.get("session")
        if user is None or not user.is_authenticated or not user.is_active or not session or not session.session_key:
            # Accepted, to close with a code: refused at the handshake, the browser would see only a
            # dropped connection (1006) and try again for ever instead of saying "signed out".
            await self.accept()
            await self._close(CloseCode.NOT_SIGNED_IN)
            return
        self.user = user
        self.joined: set[str] = set()
        self.viewing: int | None = None
        self.recent: deque[float] = deque(maxlen=BURST)
        self.session_key = session.session_key
        self.session_group = live.session_group(session.session_key)
        self.session_hash = await database_sync_to_async(session.get)(HASH_SESSION_KEY, "")
        await self.accept()
        await self._regroup()
        await self.channel_layer.group_add(self.session_group, self.channel_name)
        seqs = await database_sync_to_async(live.current_seq)(self.joined)
        await self.send(text_data=render_to_string("inbox/live.html#hello", {"streams": sorted(seqs.items())}))
        self.rechecking = asyncio.ensure_future(self._recheck())

    async def disconnect(self, code):
        if getattr(self, "rechecking", None):
            self.rechecking.cancel()
        for group in getattr(self, "joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)
        if hasattr(self, "session_group"):
            await self.channel_layer.group_discard(self.session_group, self.channel_name)
        if getattr(self, "viewing", None):
            await self._note(self.viewing, "left")
            self.viewing = None

    async def receive(self, text_data=None, bytes_data=None):
        if self.closed_with:
            return  # closing already: frames still in flight are neither read nor logged
        if bytes_data is not None:
            return await self._refuse(CloseCode.BINARY_FRAME)
        if text_data is None or len(text_data) > MAX_FRAME:
            return await self._refuse(CloseCode.TOO_BIG)
        try:
            message = loads_untrusted(text_data)
        except UnreadableJSON:
            return await self._refuse(CloseCode.INVALID_MESSAGE)
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in presence.ACTIVITIES:
            return await self._refuse(CloseCode.UNKNOWN_MESSAGE)
        conversation_id = parse_id(str(message.get("conversation", "")))
        if conversation_id is None:
            return await self._refuse(CloseCode.INVALID_MESSAGE)
        if len(self.recent) == BURST and time.monotonic() - self.recent[0] < BURST_SECONDS:
            return  # a browser sends one every few seconds; a flood costs nothing but this check
        self.recent.append(time.monotonic())
        if kind == "viewing" and self.viewing not in (None, conversation_id):
            await self._note(self.viewing, "left")
            self.viewing = None
        if await self._note(conversation_id, kind):  # silently nothing otherwise (its existence is private)
            self.viewing = None if kind == "left" else conversation_id

    async def _refuse(self, code: CloseCode) -> None:
        """Close for a frame the page never sends, with one log line naming the user and the reason but
        not the frame (it is the browser's to send, and may be anything)."""
        logger.warning("live socket of user %s closed: %s (%d)", self.user.pk, code.name.lower(), code)
        await self._close(code)

    async def _close(self, code: CloseCode) -> None:
        """Close with this code; frames the browser sent before it heard are then ignored."""
        self.closed_with = code
        await self.close(code=int(code))  # a plain int: Daphne's library refuses an IntEnum

    async def _note(self, conversation_id: int, activity: str) -> bool:
        """Record presence and tell colleagues; False if the user may not see the conversation."""
        told = await database_sync_to_async(presence.note)(self.user, conversation_id, activity)
        if told is None:
            return False
        groups, html = told
        for group in groups:
            await self.channel_layer.group_send(group, {"type": "live.event", "html": html})
        return True

    async def dispatch(self, message):
        """Channels' dispatch, without its per-message hop to the sync thread to close old connections.

        Channels runs close_old_connections in Django's one thread-sensitive worker thread before every
        message, which under a storm queues each socket's every event behind the web requests' database
        work. Handlers here that touch the database do so through database_sync_to_async, which closes
        old connections itself; the live_* handlers never touch it.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # Messages from the channel layer (only ever sent by the server).

    async def live_event(self, event):
        """One frame per layer message: a publish already puts all of a stream's events in one."""
        await self.send(text_data=event["html"])

    async def live_regroup(self, event):
        """The user's queues changed: join and leave streams to match, at once."""
        await self._regroup()

    async def live_close(self, event):
        """Signed out, password changed or deactivated: this socket stops here."""
        await self._close(CloseCode.SIGNED_OUT)

    async def _recheck(self):
        """Now and then, what the signals cannot tell: the session expired, or the person changed behind them."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            if not await database_sync_to_async(_session_alive)(self.session_key):
                await self._close(CloseCode.NOT_SIGNED_IN)
                return
            if not await self._regroup():
                return

    async def _regroup(self) -> bool:
        """Streams to match who the user is now (queues, role); closed if this session is no longer theirs."""
        user = await database_sync_to_async(_current_user)(self.user.pk, self.session_hash)
        wanted = await database_sync_to_async(live.groups_for_user)(user) if user else set()
        for group in self.joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in wanted - self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = wanted
        if user is None:
            await self._close(CloseCode.SIGNED_OUT)
            return False
        self.user = user
        if self.viewing and not await self._note(self.viewing, "viewing"):  # no longer theirs to see
            await self._note(self.viewing, "left")
            self.viewing = None
        return True


def _session_alive(session_key: str) -> bool:
    """The session still exists and has not expired (the session engine's own reading of it)."""
    from importlib import import_module

    from django.conf import settings

    return bool(import_module(settings.SESSION_ENGINE).SessionStore(session_key).load())


def _current_user(pk: int, session_hash: str):
    """The user as they are now, if still active and this session still theirs (as Django checks it)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=pk, is_active=True).first()
    if user is None or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    return user
