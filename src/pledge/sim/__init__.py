"""A local Atlassian Cloud site for development and tests: key servers, JWKS, signed lifecycle, REST (S11)."""
