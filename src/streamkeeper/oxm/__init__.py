"""The viewer experience API `/oxm/v1`: tenant stream policies enforced on the shared policy
engine, stream progress and history, and watchlists, for callers holding a tenant's JWT."""
