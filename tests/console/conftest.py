from tests.apis.conftest import cheap_password_hashing, hmp  # noqa: F401 - fixtures shared with /apis tests
