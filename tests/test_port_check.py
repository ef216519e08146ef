"""The check ``bentoml serve`` runs before binding its port."""

from __future__ import annotations

import socket

from tryon.service.port_check import port_is_held


def test_a_port_someone_listens_on_is_held_and_a_free_one_is_not() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert port_is_held("127.0.0.1", port)
    assert not port_is_held("127.0.0.1", port)
