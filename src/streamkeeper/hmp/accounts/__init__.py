"""Users, groups, roles and logins of the media-platform API."""
