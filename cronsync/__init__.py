"""cronsync: compile a jobs.json into systemd user timers or crontab entries."""

__version__ = "0.1.0"
