"""Usage over time: what happened to sessions per application and per minute, kept 30 days in
the catalog database so that every worker and server adds to one figure and it survives restarts.
`models.py` the table, `recorder.py` the background task each process runs, `report.py` the
query behind `GET /admin/v1/usage`, `endpoints.py` that route (JSON and CSV)."""
