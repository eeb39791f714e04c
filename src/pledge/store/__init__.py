"""S2: tenant-scoped, declared, encrypted storage for apps."""
