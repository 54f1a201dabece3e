"""asyncio plumbing every composition root and streaming splice repeats.

- `cancel_and_wait(tasks)`: cancel tasks and wait until each has finished, whatever it raised
  (the end of a splice, a component shutting down);
- `run_until_signalled(serve, failures)`: what `podplane server | agent | up` do as a
  process: configure logging from $PODPLANE_LOG_LEVEL, run `serve(stop)` with `stop` set on
  SIGINT/SIGTERM, and turn a start-up failure into its message on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping

__all__ = ["cancel_and_wait", "run_until_signalled"]


async def cancel_and_wait(tasks: Iterable[asyncio.Future | None]) -> None:
    tasks = [t for t in tasks if t is not None]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]],
                        failures: Mapping[type[Exception], str]) -> int:
    """Exit status 0 after a clean stop; 1 with `<prefix>: <error>` for the listed failures."""
    logging.basicConfig(level=os.environ.get("PODPLANE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(stop)

    try:
        asyncio.run(main())
    except tuple(failures) as e:
        prefix = next(p for kind, p in failures.items() if isinstance(e, kind))
        print(f"{prefix}: {e}", file=sys.stderr)
        return 1
    return 0
