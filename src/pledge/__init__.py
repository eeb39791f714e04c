"""Pledge: an Atlassian Cloud app backend that keeps its vendor's privacy statement true by construction."""

__version__ = "0.1.0"
