"""S12: what the deployment's public address answers, probed from outside the process's own settings."""
