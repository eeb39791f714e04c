"""Schema migrations: applied by ``pledge db upgrade`` and at ``serve`` start-up, under a lock."""
