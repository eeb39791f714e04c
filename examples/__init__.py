"""Example apps served by Pledge."""
