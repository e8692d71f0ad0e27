"""What the console shows of enforced playback: the administration kinds (drawn by the console's
generic admin page, console/administration.py) and a session's playback on the dashboard."""

from __future__ import annotations

from typing import Any


def _f(name: str, label: str, widget: str = "text", **extra) -> dict:
    return {"name": name, "label": label, "widget": widget, **extra}


KINDS: dict[str, dict] = {
    "playback-grants": {
        "title": "Playback", "singular": "playback grant", "key": "id", "label": "id",
        "hint": "Live sources and videos that subscribers may play through a token URL (/play/...), under an "
                "application (/v2 sessions) or a tenant (/oxm/v1 streams). Withdrawing one cuts its players off.",
        "columns": [["ownerKind", "Under", "text"], ["application", "Application", "code"],
                    ["tenant", "Tenant", "code"], ["assetKind", "Kind", "text"], ["video", "Video", "code"],
                    ["source", "Source", "code"]],
        "fields": [_f("ownerKind", "Under", "select", options=["application", "tenant"], default="application"),
                   _f("application", "Application", "select", source="applications",
                      showIf={"ownerKind": "application"}),
                   _f("tenant", "Tenant", "select", source="tenants", showIf={"ownerKind": "tenant"}),
                   _f("assetKind", "Plays", "select", options=["video", "source"], default="video"),
                   _f("video", "Video id", showIf={"assetKind": "video"}, help="from the Library (its address)"),
                   _f("source", "Source id", showIf={"assetKind": "source"}, help="from the Live page")],
        "empty": "Nothing is available for enforced playback yet: press New to grant a video or a live source.",
    },
    "playback-applications": {
        "title": "Playback options", "singular": "application's playback options", "key": "id", "label": "id",
        "hint": "Per application: whether the playlist and segment fetches of its players keep their sessions "
                "alive (on by default), so a player that only plays stays counted.",
        "columns": [["id", "Application", "code"], ["fetchHeartbeat", "Fetches are heartbeats", "yesno"]],
        "fields": [_f("id", "Application", "select", source="applications", createOnly=True),
                   _f("fetchHeartbeat", "Playlist and segment fetches count as heartbeats", "checkbox", default=True)],
        "empty": "No applications yet.",
    },
}


def playback_of(app_state: Any, session) -> dict | None:
    """A session's enforced playback for the dashboard: None, or {"since", "lastFetch"}."""
    service = getattr(app_state, "playback", None)
    return service.describe(session) if service is not None else None
