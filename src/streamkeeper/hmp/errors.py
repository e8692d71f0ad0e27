"""Every error the `/apis` surface can answer with, in one table.

A client of the media platform recognises failures by the six-digit `code` and the `name`; the
first two digits of the code follow the HTTP status, so both travel together in `HmpError`.
"""

from __future__ import annotations

from typing import NamedTuple


class ErrorKind(NamedTuple):
    code: str
    name: str
    status: int
    message: str


def _kind(code: str, name: str, status: int, message: str) -> ErrorKind:
    return ErrorKind(code, name, status, message)


INPUT_VALIDATION = _kind("010001", "InputValidation", 400, "Input validation failed")
INVALID_FILTER = _kind("010002", "InvalidFilter", 400, "Invalid filter")
NO_RECORDING_ACTIVE = _kind("010004", "NoRecordingActive", 404, "Not an active recording")
MULTI_SOURCES_STREAM = _kind("010005", "MultiSourcesStream", 400,
                             "Multi-Source recordings must have a destination list")
ADDRESS_PORT_IN_USE = _kind("010006", "AddressPortAlreadyInUse", 400, "Address or port already in use")
USER_NOT_AUTHORIZED = _kind("020001", "UserNotAuthorized", 401, "User is not authorized")
INVALID_CREDENTIALS = _kind("020002", "InvalidCredentials", 401, "Invalid credentials")
LOGIN_THROTTLED = _kind("020003", "TooManyFailedLogins", 401,
                        "Too many failed logins, try again later")
FORBIDDEN = _kind("030001", "Forbidden", 403, "Not allowed")
CANNOT_SHARE = _kind("030003", "CannotShare", 403, "Cannot share")
SESSION_HIDDEN = _kind("040006", "SessionHidden", 403, "Session hidden")
NOT_FOUND = _kind("040000", "NotFound", 404, "Not Found Error")
RECORDING_NOT_FOUND = _kind("040001", "RecordingNotFound", 404, "Active recording not found")
ASSET_NOT_FOUND = _kind("040002", "AssetNotFound", 404, "Video not found")
STREAM_NOT_FOUND = _kind("040003", "StreamNotFound", 404, "Stream not found")
USER_NOT_FOUND = _kind("040004", "UserNotFound", 404, "User not found")
GROUP_NOT_FOUND = _kind("040005", "GroupNotFound", 404, "Group not found")
SESSION_NOT_FOUND = _kind("040006", "SessionNotFound", 404, "Session not found")
CATEGORY_NOT_FOUND = _kind("040007", "CategoryNotFound", 404, "Category not found")
SOURCE_NOT_FOUND = _kind("040009", "SourceNotFound", 404, "Source not found")
HOTMARK_NOT_FOUND = _kind("040010", "HotmarkNotFound", 404, "HotMark not found")
THUMBNAIL_NOT_FOUND = _kind("040011", "ThumbnailNotFound", 404, "Thumbnail not found")
NO_RESULTS = _kind("040012", "NoResults", 404, "No results")
TRACK_NOT_FOUND = _kind("040015", "TrackNotFound", 404, "Track not found")
USER_GROUP_NOT_FOUND = _kind("040021", "UserGroupNotFound", 404, "User or Group not found")
AUTH_SESSION_NOT_FOUND = _kind("040022", "AuthSessionNotFound", 404, "Unknown session")
SHARE_PERMISSION_NOT_FOUND = _kind("040025", "SharePermissionNotFound", 404, "Share permission not found")
METHOD_NOT_ALLOWED = _kind("050000", "MethodNotAllowed", 405, "Method not allowed")
USER_HAS_NO_ROLES = _kind("060001", "UserHasNoRoles", 409, "User has no roles assigned")
GROUP_HAS_NO_ROLES = _kind("060002", "GroupHasNoRoles", 409, "Group has no roles assigned")
RECORDING_IN_PROGRESS = _kind("060003", "RecordingInProgress", 409, "Recording currently in progress")
HOTMARK_EXISTS = _kind("060004", "HotmarkAlreadyExists", 409, "HotMark already exists at this time")
BEING_TRIMMED = _kind("060005", "RecordingBeingTrimmed", 409, "Video currently being trimmed")
BEING_IMPORTED = _kind("060006", "RecordingBeingImported", 409, "Video currently being imported")
BEING_EXPORTED = _kind("060007", "RecordingBeingExported", 409, "Video currently being exported")
SESSION_SOURCE_EXISTS = _kind("060008", "SessionSourceAlreadyExists", 409,
                              "Source already added to this session")
SESSION_HAS_NO_SOURCE = _kind("060009", "SessionHasNoSource", 409, "Session requires at least one source")
BEING_STREAMED = _kind("060013", "RecordingBeingStreamed", 409, "Video currently being streamed")
BEING_PROCESSED = _kind("060019", "RecordingBeingProcessed", 409, "Video currently being processed")
INTERNAL = _kind("070000", "InternalServerError", 500, "Internal Server Error")
FIND_USER = _kind("070008", "FindUser", 500, "Error searching for a user")
FIND_GROUP = _kind("070009", "FindGroup", 500, "Error searching for a group")
FILE_WRITE = _kind("070014", "FileWrite", 500, "Error writing to file")
UPDATE_ASSET = _kind("070017", "UpdateAsset", 500, "Failed to update a video")
CREATE_SESSION = _kind("070019", "CreateSession", 500, "Failed to create a session")
INSUFFICIENT_SPACE = _kind("070027", "InsufficientSpace", 500,
                           "Insufficient disk space on server to complete operation")
CREATE_USER_SESSION = _kind("070051", "CreateUserSession", 500, "Could not create user session")
NOT_IMPLEMENTED = _kind("080000", "NotImplemented", 501, "Not implemented")
SERVICE_UNAVAILABLE = _kind("090002", "ServiceUnavailable", 503, "Service unavailable")
UNSUPPORTED_MEDIA_TYPE = _kind("100000", "UnsupportedMediaType", 415, "Unsupported Media Type")
# Not in the document's table, which ends with 415 as group 10; 413 takes the next group.
PAYLOAD_TOO_LARGE = _kind("110000", "PayloadTooLarge", 413, "Request body too large")

ALL: tuple[ErrorKind, ...] = tuple(v for v in globals().values() if isinstance(v, ErrorKind))


class HmpError(Exception):
    """A documented failure; `message` may be more specific than the table's default."""

    def __init__(self, kind: ErrorKind, message: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message or kind.message)
        self.kind = kind
        self.message = message or kind.message
        self.headers = headers

    @property
    def status(self) -> int:
        return self.kind.status

    def body(self) -> dict:
        return error_body(self.kind, self.message)


def error_body(kind: ErrorKind, message: str | None = None) -> dict:
    return {"code": kind.code, "name": kind.name, "message": message or kind.message,
            "httpStatusCode": kind.status}


def invalid(message: str) -> HmpError:
    return HmpError(INPUT_VALIDATION, message)


def for_status(status: int) -> ErrorKind:
    """The generic error for a bare HTTP status raised by the framework (unknown route, wrong method)."""
    return {400: INPUT_VALIDATION, 401: USER_NOT_AUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND,
            405: METHOD_NOT_ALLOWED, 413: PAYLOAD_TOO_LARGE, 415: UNSUPPORTED_MEDIA_TYPE, 501: NOT_IMPLEMENTED,
            503: SERVICE_UNAVAILABLE}.get(status, INTERNAL if status >= 500 else INPUT_VALIDATION)
