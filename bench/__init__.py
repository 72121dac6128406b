"""Benchmarks of Brigade, run on demand (never by the test suite): `python -m bench --help`.

Each benchmark is one module with `add_arguments(parser)` and `async run(args) -> list[Table]`;
`bench/__main__.py` runs one of them or all, and prints their tables. See docs/benchmarks.md.
"""
