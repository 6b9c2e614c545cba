"""The `convoy` command line: one module per command group and the shared helpers."""
