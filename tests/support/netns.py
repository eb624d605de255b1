"""A second site on this machine: a network namespace joined to the root one by a veth
pair (root side 10.200.18.1/30, namespace side 10.200.18.2/30). Made by the caller's
test, removed afterwards, failure or not. Needs root (CAP_NET_ADMIN)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ROOT_ADDRESS = "10.200.18.1"
SITE_ADDRESS = "10.200.18.2"
PREFIX_LEN = 30


@dataclass(frozen=True)
class Site:
    namespace: str
    root_address: str = ROOT_ADDRESS
    address: str = SITE_ADDRESS

    def exec_prefix(self) -> list[str]:
        """Prefix a command with this to run it inside the namespace."""
        return ["ip", "netns", "exec", self.namespace]


def namespaces_unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    probe = f"d18probe{os.getpid() % 100000}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def edge_site() -> Iterator[Site]:
    tag = os.getpid() % 100000
    site = Site(namespace=f"d18edge{tag}")
    root_end, site_end = f"vd18r{tag}", f"vd18e{tag}"
    try:
        _ip("netns", "add", site.namespace)
        _ip("link", "add", root_end, "type", "veth", "peer", "name", site_end)
        _ip("link", "set", site_end, "netns", site.namespace)
        _ip("addr", "add", f"{site.root_address}/{PREFIX_LEN}", "dev", root_end)
        _ip("link", "set", root_end, "up")
        inside = ["netns", "exec", site.namespace, "ip"]
        _ip(*inside, "addr", "add", f"{site.address}/{PREFIX_LEN}", "dev", site_end)
        _ip(*inside, "link", "set", site_end, "up")
        _ip(*inside, "link", "set", "lo", "up")
        yield site
    finally:
        # Deleting the namespace deletes its veth end, and with it the pair.
        subprocess.run(["ip", "netns", "delete", site.namespace], capture_output=True)
        subprocess.run(["ip", "link", "delete", root_end], capture_output=True)
