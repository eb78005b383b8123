"""The floor for the live benchmark: a bare `websockets` broadcast server, nothing else.

    .venv/bin/python tests/bench/ws_floor.py PORT

A client that sends a text frame has it relayed to every other connected client. No Django, no
channel layer, no database: what is left is the cost of the socket work itself on this machine.
"""

import asyncio
import sys

import websockets

clients: set = set()


async def relay(connection) -> None:
    clients.add(connection)
    try:
        async for message in connection:
            websockets.broadcast(clients - {connection}, message)
    finally:
        clients.discard(connection)


async def main(port: int) -> None:
    async with websockets.serve(relay, "127.0.0.1", port, max_size=2**16):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
