"""Helpers shared by the benchmarks (bench/) and the tests (tests/); the app never imports
them (an import-linter contract in pyproject.toml keeps it that way). Standard library only."""
