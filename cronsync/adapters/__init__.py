"""Adapters at the edges: systemd, crontab, notifications, LLM backends."""
