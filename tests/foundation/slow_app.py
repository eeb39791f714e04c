"""A test app whose one route holds its request open until the test says so: graceful shutdown is observable."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pledge.app import App, Auth, RequestContext

GATE_ENV = "SLOW_APP_GATE"
HOLD_AT_MOST_SECONDS = 60

app = App(key="slow", name="Slow test app")


@app.route("/hold", auth=Auth.PUBLIC)
async def hold(_context: RequestContext) -> dict[str, bool]:
    """Touch ``started`` in the gate directory, then answer once the test has touched ``release``."""
    gate = Path(os.environ[GATE_ENV])
    (gate / "started").touch()
    for _ in range(HOLD_AT_MOST_SECONDS * 100):
        if (gate / "release").exists():
            return {"released": True}
        await asyncio.sleep(0.01)
    return {"released": False}
