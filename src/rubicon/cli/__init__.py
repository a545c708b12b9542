"""The `rubicon` command line: one module per command, each calling the public API only."""
