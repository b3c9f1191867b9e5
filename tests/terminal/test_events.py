"""The event bus ends its listeners' streams on close, so a server can stop at once."""

from __future__ import annotations

import asyncio
import threading

from onshi.terminal.events import EventBus


def test_close_ends_every_stream_and_refuses_new_ones() -> None:
    bus = EventBus()
    bus.publish("central", reachable=True)

    async def listen() -> list[str]:
        seen = []
        async for event in bus.listen():
            seen.append(event["kind"])
            if event["kind"] == "answer":
                # Closed from another thread, as the demo does on Ctrl-C.
                threading.Thread(target=bus.close).start()
        return seen

    async def main() -> list[str]:
        task = asyncio.create_task(listen())
        await asyncio.sleep(0.05)
        bus.publish("answer", outcome="ok")
        return await asyncio.wait_for(task, 2)

    assert asyncio.run(main()) == ["central", "answer"]

    async def late() -> list[object]:
        return [event async for event in bus.listen()]

    assert asyncio.run(asyncio.wait_for(late(), 2)) == []
