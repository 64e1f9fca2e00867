"""The pure core: schema, schedules, rendering, planning. No I/O; it imports nothing of cronsync but core."""
