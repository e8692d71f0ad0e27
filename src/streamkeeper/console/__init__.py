"""The operator console at `/`: server-rendered pages over the services the APIs use.

Pages are Jinja2 templates; a little JavaScript (our own scripts, and uPlot for the charts, all
shipped in `static/`) refreshes them and drives the public APIs from the browser with the login
cookie, so what a user sees and may do is exactly what `/apis`, `/admin/v1` and `/v2` allow.
"""
