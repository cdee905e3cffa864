"""What a user sets, as options: the pytest options and ini keys (``pytest_options``), the help's
shared argparse helpers (``argparse_help``), and the generated options page (``doc``:
``python -m qpbench.options.doc`` writes docs/options.md)."""
