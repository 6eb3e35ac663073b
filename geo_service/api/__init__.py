"""HTTP API: thin routers over the store, one per concern."""
