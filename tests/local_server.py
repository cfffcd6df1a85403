"""An ASGI app served over real HTTP (uvicorn) inside the test's own event loop."""
import asyncio
import contextlib
import socket

import uvicorn


class _Server(uvicorn.Server):
    def capture_signals(self):  # leave pytest's signal handlers alone
        return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def serving(make_app):
    """Serve ``make_app(base_url)`` on a free port (the socket is bound first: no race)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = _Server(uvicorn.Config(make_app(base), log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        await task
        sock.close()
