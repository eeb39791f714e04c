"""Benchmarks: what each promise costs on the request path, measured against a bare route in the same run."""
