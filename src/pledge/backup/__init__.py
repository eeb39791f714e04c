"""Backups (S4, S5): encrypted per-tenant segments under a manifest, kept in a target (a directory or S3)."""
