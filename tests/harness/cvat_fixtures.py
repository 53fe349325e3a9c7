"""Pytest fixtures for CVAT (imported into tests/conftest.py): the test double, and the real server when the
environment names one (``testing/cvat_real.py``). ``cvat_server`` / ``cvat_env`` run a test on both; ``cvat_double`` /
``cvat_double_env`` are for what only the double can do on demand (faults, a stopped server, its request log)."""

import pytest

from testing import cvat_real
from testing.cvat_double import CVATDouble

REAL_REASON = "no real CVAT: set LABELLOOP_CVAT_URL/USERNAME/PASSWORD (README: real CVAT tests)"


@pytest.fixture
def cvat_double():
    """A fresh CVAT double (users ``admin`` and ``user2``) on a free loopback port, stopped afterwards; fails the
    test if a request hit a bug in the double (``server_errors``)."""
    with CVATDouble() as double:
        yield double
    assert not double.server_errors, "\n".join(double.server_errors)


@pytest.fixture(params=["double", pytest.param("real", marks=pytest.mark.cvat_real)])
def cvat_server(request):
    """The double, then the real server (skipped unless configured); on the real one, what the test created is
    deleted afterwards, whether it passed or not."""
    if request.param == "double":
        yield request.getfixturevalue("cvat_double")
        return
    if not cvat_real.configured():
        pytest.skip(REAL_REASON)
    server = cvat_real.RealCVAT()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(params=["double", pytest.param("real", marks=pytest.mark.cvat_real)])
def cvat_tls_server(request):
    """A CVAT server over https with a certificate of its own CA (``ca_file``): the double, then the real one behind
    ``up.sh tls`` (skipped unless LABELLOOP_CVAT_TLS_URL and LABELLOOP_CVAT_CA_BUNDLE are set too)."""
    if request.param == "double":
        with CVATDouble(tls=True) as double:
            yield double
        assert not double.server_errors, "\n".join(double.server_errors)
        return
    if not cvat_real.configured(tls=True):
        pytest.skip(REAL_REASON + " and LABELLOOP_CVAT_TLS_URL/CA_BUNDLE")
    server = cvat_real.RealCVAT(tls=True)
    try:
        yield server
    finally:
        server.cleanup()


def configure(server, monkeypatch):
    """``server`` as the configured CVAT: FIFTYONE_CVAT_URL/USERNAME/PASSWORD name its owner account, and
    ``fo.annotation_config`` (which read those variables when FiftyOne was imported) is patched to match."""
    import fiftyone as fo

    owner = server.owner
    settings = {"url": server.url, "username": owner.username, "password": owner.password}
    for key, value in settings.items():
        monkeypatch.setenv(f"FIFTYONE_CVAT_{key.upper()}", value)
        monkeypatch.setitem(fo.annotation_config.backends["cvat"], key, value)
    return server


@pytest.fixture
def cvat_env(cvat_server, monkeypatch):
    """``cvat_server`` (double, then real) as the configured CVAT server."""
    return configure(cvat_server, monkeypatch)


@pytest.fixture
def cvat_double_env(cvat_double, monkeypatch):
    """The double as the configured CVAT server."""
    return configure(cvat_double, monkeypatch)
