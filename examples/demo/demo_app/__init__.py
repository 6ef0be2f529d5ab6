"""A tiny shop: prices, a store backed by SQLite, and a health check."""
