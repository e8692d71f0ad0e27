"""Request bodies of `/apis`, declared as Pydantic models.

A body that is not JSON, not an object, or whose fields have the wrong type is refused by
FastAPI before the endpoint runs, and answered 400 `010001 InputValidation` naming the field
(see `api.render_problem`). Types are strict, as the platform is: `"5"` is not a number and
`true` is not an integer. Fields the API does not know are kept and ignored, so that clients
which send more (ids, read-only fields of a resource they read before) keep working.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from fastapi import Body
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator


class HmpBody(BaseModel):
    """A JSON object; unknown fields allowed."""

    model_config = ConfigDict(strict=True, extra="allow")

    def fields(self) -> dict[str, Any]:
        """The fields the client sent (unknown ones included), as the services take them."""
        return self.model_dump(exclude_unset=True)


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError("must be an IPv4 address") from None


IPv4 = Annotated[str, AfterValidator(_ipv4)]
Port = Annotated[int, Field(ge=1, le=65535)]
Milliseconds = Annotated[int | float, Field(ge=0, allow_inf_nan=False)]


def optional(model: type[HmpBody]) -> Any:
    """An optional body: no body at all is the model with its defaults."""
    return Body(None, description=model.__doc__)


# -- recordings, thumbnails, streams (hmp/recordings) ---------------------------------------------------

class Recorder(HmpBody):
    source: str


class StartRecording(HmpBody):
    """Which of the session's sources to record (default: all of them)."""

    recorders: list[Recorder] | None = None


class RecordingState(HmpBody):
    """Pause or resume an active recording."""

    state: Literal["PAUSED", "RECORDING"]


class RecordingHotmark(HmpBody):
    """A HotMark on an active recording; `timestamp` (ms) defaults to the recording's position now."""

    timestamp: Milliseconds | None = None


class Poster(HmpBody):
    """The frame that becomes the video's thumbnail (the fields may also come wrapped in `data`)."""

    timestamp: Milliseconds
    trackId: int

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and "data" in value:
            return value["data"]
        return value


class Destination(HmpBody):
    trackId: int
    address: IPv4
    port: Port


class NewStream(HmpBody):
    """Where to re-stream a video: one address and port, or one destination per track (then
    `address` and `port` are ignored, whatever they hold)."""

    destinations: list[Destination] | None = Field(None, min_length=1)
    address: Any = None
    port: Any = None
    ttl: int = Field(16, ge=0, le=255)
    state: Literal["playing", "paused"] = "playing"

    def single(self) -> Destination:
        """`address` and `port` as the destination of track 1 (checked only when used)."""
        try:
            return Destination.model_validate({"trackId": 1, "address": self.address, "port": self.port})
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None


class StreamState(HmpBody):
    """Pause or resume a stream (no state: unchanged)."""

    state: Literal["playing", "paused"] | None = None


class Seek(HmpBody):
    """Where to continue a stream, in seconds from the start of the video."""

    time: Annotated[int | float, Field(ge=0, lt=2**31, allow_inf_nan=False)]


# -- catalog objects ------------------------------------------------------------------------------
# A field typed `T = None` may be left out but not sent as null; `T | None` may be null too. The
# services still check what the types cannot say (lengths, required on create, the rules of a
# complete source or event after an update is merged in).

class SourceFields(HmpBody):
    """A source, or the fields of it to change."""

    name: str | None = None
    type: str | None = None
    host: str | None = None
    port: int | None = None
    description: str | None = None
    multicast: bool | None = None
    continuous: bool | None = None
    mode: str | None = None
    latency: int | None = None
    passphrase: str | None = None


class SessionFields(HmpBody):
    """A session, or the fields of it to change."""

    title: str = None  # type: ignore[assignment]
    description: str | None = None
    active: bool | None = None
    syncrecord: bool | None = None


class SessionSource(HmpBody):
    """The source to add to a session."""

    sourceId: str


class AssetFields(HmpBody):
    """The fields of a video to change."""

    title: str = None  # type: ignore[assignment]
    description: str | None = None


class HotmarkFields(HmpBody):
    """A HotMark, or the fields of it to change (`timestamp` in milliseconds)."""

    timestamp: int | float = None  # type: ignore[assignment]
    title: str | None = None
    description: str | None = None


class EventFields(HmpBody):
    """A session event, or the fields of it to change."""

    title: str | None = None
    startTime: int | None = None
    duration: int | None = None
    type: str | None = None
    command: str | None = None
    typeData: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
