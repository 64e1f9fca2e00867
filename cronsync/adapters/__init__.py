"""One external system each: processes, the systemd user manager, the crontab, notifications, LLM backends."""
