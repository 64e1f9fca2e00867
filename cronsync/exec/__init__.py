"""`cronsync exec`: the hot path every timer and crontab entry runs; import-light by rule."""
