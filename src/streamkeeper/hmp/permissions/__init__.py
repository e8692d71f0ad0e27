"""Role permissions and per-object shares: who may do what to which source, session or video."""
