"""What to call the server a run talks to, said as it is: the built-in simulator, a server on
this machine, a custom server, or the MiniMax API. One rule for every view that names it: the
run's first line and the contact sheet.

The endpoint is the fingerprints' identity: "simulator" for the embedded simulator, else the
base URL (pipeline/minimax/account.py: argument, MINIMAX_BASE_URL, user config, default).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pipeline.minimax.account import DEFAULT_BASE_URL
from pipeline.run.request import SIM_ENDPOINT

Kind = Literal["simulator", "api", "local", "custom"]

# The MiniMax API's own hosts: the international one (the default) and mainland China's (a key
# works only with its region's host).
API_HOSTS = {urlsplit(DEFAULT_BASE_URL).hostname: "", "api.minimaxi.com": ", mainland China"}
SIM_SERVER = "minimax-sim"  # the simulator's HTTP Server header (pipeline/sim/server.py)


@dataclass(frozen=True)
class EndpointName:
    kind: Kind
    text: str  # "the MiniMax API (api.minimax.io)", "a local server at http://127.0.0.1:8765", ...
    url: str | None = None  # the base URL as given; None for the embedded simulator

    @property
    def simulated(self) -> bool:
        return self.kind == "simulator"


def name_endpoint(endpoint: str, server: str | None = None) -> EndpointName:
    """What `endpoint` is. `server`: the HTTP Server header its answers carried, when a run
    recorded it; it tells `shots sim` from any other server on this machine."""
    if endpoint == SIM_ENDPOINT:
        return EndpointName("simulator", "the built-in simulator (previz)")
    try:
        parts = urlsplit(endpoint)
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number: still a custom server, named as written
        return EndpointName("custom", f"custom server at {endpoint}", endpoint)
    netloc = parts.netloc.rpartition("@")[2]  # never a user:password written into the URL
    url = parts._replace(netloc=netloc).geturl() if netloc else endpoint
    if parts.scheme == "https" and port is None and host in API_HOSTS:
        return EndpointName("api", f"the MiniMax API{API_HOSTS[host]} ({host})", url)
    if _loopback(host):
        if server and server.split("/")[0].strip().lower() == SIM_SERVER:
            return EndpointName("local", f"shots sim at {url}", url)
        return EndpointName("local", f"a local server at {url}", url)
    return EndpointName("custom", f"custom server at {netloc or endpoint}", url)


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
