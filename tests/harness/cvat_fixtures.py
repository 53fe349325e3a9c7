"""Pytest fixtures for the CVAT test double (imported into tests/conftest.py)."""

import pytest

from testing.cvat_double import CVATDouble


@pytest.fixture
def cvat_server():
    """A fresh CVAT double (users ``admin`` and ``user2``) on a free loopback port, stopped afterwards; fails the
    test if a request hit a bug in the double (``server_errors``)."""
    with CVATDouble() as double:
        yield double
    assert not double.server_errors, "\n".join(double.server_errors)


@pytest.fixture
def cvat_env(cvat_server, monkeypatch):
    """The double as the configured CVAT server: FIFTYONE_CVAT_URL/USERNAME/PASSWORD name its owner account, and
    ``fo.annotation_config`` (which read those variables when FiftyOne was imported) is patched to match."""
    import fiftyone as fo

    owner = cvat_server.owner
    settings = {"url": cvat_server.url, "username": owner.username, "password": owner.password}
    for key, value in settings.items():
        monkeypatch.setenv(f"FIFTYONE_CVAT_{key.upper()}", value)
        monkeypatch.setitem(fo.annotation_config.backends["cvat"], key, value)
    yield cvat_server
