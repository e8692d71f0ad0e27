"""Enforced playback: playback URLs bound to a live stream session, checked at every fetch.

`tokens.py` (the signed, encrypted token), `keys.py` (where its keys come from), `grants.py`
(what may be played under which application or tenant), `service.py` (issuing and the check, no
HTTP), `media.py` (the bytes behind a `/play` URL), `endpoints.py` + `admin.py` (HTTP), `cli.py`,
`config.py`, `feature.py`. See docs/playback.md.
"""
