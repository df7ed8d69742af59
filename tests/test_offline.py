"""The tests' offline switch (conftest.offline) really cuts the network, and leaves loopback, which
Jupyter's kernels need, working: both the network namespace and the socket-guard fallback."""

import subprocess
import sys

import pytest

import conftest

PROBE = """
import socket
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
socket.create_connection(server.getsockname(), timeout=5).close()
try:  # the package registry: the one remote host these machines reach
    socket.create_connection(("pypi.org", 443), timeout=5).close()
    print("online")
except OSError:
    print("offline")
"""


@pytest.fixture(scope="module")
def online():
    """The probe run as it is: unless it reaches the network, cutting it proves nothing."""
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    if result.stdout.strip() != "online":
        pytest.skip("this machine reaches no remote host, so there is no network to cut")


@pytest.mark.parametrize("route", ["best", "socket-guard"])
def test_offline_cuts_the_network_and_keeps_loopback(online, route, monkeypatch):
    if route == "socket-guard":  # as on a machine that does not allow a network namespace
        monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    command, env = conftest.offline([sys.executable, "-c", PROBE])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "offline"
