"""The media engine: MPEG-TS in, on disk and out again.

Domain modules, plain Python, no HTTP:
``ts`` (packets, continuity, clocks, PSI), ``pacer`` (real time from PCR),
``ingest`` (UDP/SRT receivers), ``recorder`` (track files, pause, crash
finalisation), ``thumbnails``, ``remux`` (MP4, streamed ZIP), ``restream``
(paced UDP output), ``scheduler`` (events), ``testsignal`` (real test
streams), ``hls`` (HLS playlists and segments cut from the TS on disk).
``engine`` ties them together. The ``/apis`` endpoints and the catalog
wiring that drive it live in :mod:`streamkeeper.hmp.recordings`.
"""
