"""Every table of the media-platform API, for `streamkeeper.models` and Alembic."""

from .accounts.models import (  # noqa: F401
    GroupMemberRow, GroupRoleRow, GroupRow, LoginFailureRow, LoginSessionRow, RoleRow, UserRoleRow, UserRow,
)
from .assets.models import AssetRow, HotmarkRow  # noqa: F401
from .categories.models import CategoryRow  # noqa: F401
from .events.models import EventRow  # noqa: F401
from .permissions.models import PublicShareRow, SharePermissionRow, ShareRow  # noqa: F401
from .sessions.models import SessionRow, SessionSourceRow  # noqa: F401
from .sources.models import SourceRow  # noqa: F401
