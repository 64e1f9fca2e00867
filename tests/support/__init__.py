"""What the tests share: the harness that starts real daemons, and helpers for user spaces and the CLI."""
