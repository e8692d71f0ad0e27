"""Admin-defined categories whose values are stored as metadata on sessions and videos."""
