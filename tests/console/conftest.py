from tests.hmp.conftest import cheap_password_hashing, hmp  # noqa: F401 - fixtures shared with /apis tests
