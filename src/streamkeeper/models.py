"""Every catalog table, imported in one place so migrations see the whole schema."""

from .admin.models import ApplicationPolicyRow, ApplicationRow, CatalogVersionRow, PolicyRow, TenantRow  # noqa: F401
from .hmp import models as hmp_models  # noqa: F401
from .orm import Base  # noqa: F401
from .oxm import models as oxm_models  # noqa: F401
from .playback import models as playback_models  # noqa: F401
from .usage import models as usage_models  # noqa: F401
