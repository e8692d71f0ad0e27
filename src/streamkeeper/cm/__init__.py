"""The Concurrency Monitoring API `/v2`, wire-compatible with the commercial service it replaces."""
