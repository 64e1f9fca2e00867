"""One module per command: click options, one call, print. Commands raise; only cli.py exits."""
