"""Administration of tenants, applications and policies: storage, service, `/admin/v1`, config files."""
