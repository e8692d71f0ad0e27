"""Operations: liveness and readiness probes, Prometheus metrics, JSON logs with request ids."""
