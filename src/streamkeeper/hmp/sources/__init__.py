"""Live inputs (MPEG-TS over UDP or SRT) that sessions are made of."""
