"""The inventory: the single source of truth."""
