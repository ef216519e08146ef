"""A check that ``bentoml serve`` runs before it binds its port: a held port is said in one line.

BentoML's supervisor starts each worker in a session of its own, so a server stopped by signalling
its process group (rather than the ``bentoml serve`` process) leaves its workers serving on the
port, and the next start dies in a traceback ending in "Address already in use".
"""

from __future__ import annotations

import errno
import socket
import sys

from ..library_internals import bentoml_default_address

STOP_ADVICE = "stop it with 'kill -TERM <pid of bentoml serve>' (docs/security.md, Stopping the server)"


def exit_if_port_held() -> None:
    """When started by the ``bentoml serve`` command, exit with one line if its port is taken.

    The port and host are the command's own (``--port``/``BENTOML_PORT``, ``--host``), else
    BentoML's configured defaults; started any other way (``bentoml.serve()``), nothing is checked.
    """
    import click

    context = click.get_current_context(silent=True)
    if context is None:
        return
    default_host, default_port = bentoml_default_address()
    host = context.params.get("host") or default_host
    port = context.params.get("port") or default_port
    if port_is_held(host, port):
        print(
            f"tryon: cannot start: port {port} on {host} is already in use, maybe by a server still "
            f"running (its workers outlive a signal to the process group); {STOP_ADVICE}, "
            f"or find it with: ss -ltnp 'sport = :{port}'",
            file=sys.stderr,
        )
        raise SystemExit(1)


def port_is_held(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails because something else has it (as BentoML would bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False
