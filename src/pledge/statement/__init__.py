"""The statement as code: rendered from configuration, versioned, compared and verified."""
