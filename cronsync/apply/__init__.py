"""Making the machine's scheduler match jobs.json: planning, the backends, the fast path, the watcher."""
