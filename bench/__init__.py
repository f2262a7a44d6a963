"""GridPatrol benchmarks: `make bench` (or `python -m bench [name ...]`) writes docs/benchmarks.md.

Each module listed in bench/__main__.py exposes `run(ctx) -> str`, its Markdown section.
"""
