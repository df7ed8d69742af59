"""Loaded by every Python process started with this folder on PYTHONPATH (the tests' fallback
when the machine cannot give a process its own network namespace): any connection to a host
other than this machine fails at once, as it would with the network unplugged. Jupyter's kernels
talk over loopback and keep working."""

import ipaddress
import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _local(address) -> bool:
    if not isinstance(address, tuple):  # a Unix socket path
        return True
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        return address[0] == "localhost"


def _guarded(original):
    def connect(self, address):
        if not _local(address):
            raise OSError(101, f"Network is unreachable (offline test): {address}")
        return original(self, address)
    return connect


socket.socket.connect = _guarded(_connect)
socket.socket.connect_ex = _guarded(_connect_ex)
