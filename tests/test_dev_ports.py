"""Every dev port is configurable, and a taken one stops `make run` with the project's message."""
from __future__ import annotations

import socket

import pytest

from portal.config import ConfigError, Settings
from portal.devstack import ports
from portal.devstack.run import simulated
from tests.fixtures.app import base_env, build_app


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_dev_ports_move_the_simulated_services():
    s = Settings.from_env({"PORTAL_DEV": "1", "PORTAL_DEV_CODER_PORT": "7181",
                           "PORTAL_DEV_GITEA_PORT": "7391"})
    assert (s.coder_url, s.gitea_url) == ("http://127.0.0.1:7181", "http://127.0.0.1:7391")
    assert simulated(s) == {"Coder": 7181, "Gitea": 7391}
    real = Settings.from_env({"PORTAL_DEV": "1", "CODER_URL": "https://coder.example.com",
                              "PORTAL_DEV_CODER_PORT": "7181"})
    assert simulated(real) == {"Gitea": 7300}, "a real Coder is never replaced by the simulator"


@pytest.mark.parametrize("name", ["PORTAL_DEV_CODER_PORT", "PORTAL_DEV_GITEA_PORT"])
@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_bad_dev_port_names_the_setting(name, value):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"PORTAL_DEV": "1", name: value})
    assert str(err.value).startswith(name) and "\n" not in str(err.value)


def test_taken_port_is_named_with_free_ones_to_use_instead():
    with listening_socket() as busy:
        port = busy.getsockname()[1]
        assert not ports.is_free("127.0.0.1", port)
        with pytest.raises(ports.PortTaken) as err:
            ports.check("127.0.0.1", {"portal": 5999, "Coder": port})
    message = str(err.value)
    assert f"Port {port} (the simulated Coder) is already in use" in message
    suggested = int(message.split("CODER_PORT=")[1].split()[0])
    assert suggested != port and ports.is_free("127.0.0.1", suggested)
    assert "PORT=5999" in message  # the free ones are kept


def test_make_run_with_a_taken_port_says_so_instead_of_werkzeug(tmp_path):
    with listening_socket() as busy:
        port = busy.getsockname()[1]
        env = base_env(tmp_path, CODER_URL="", GITEA_URL="", PORTAL_DEV_GITEA_PORT=str(port))
        app = build_app(env)
        result = app.test_cli_runner().invoke(args=["portal", "dev", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert f"Port {port} (the simulated Gitea) is already in use" in result.output
    assert "make run" in result.output and "GITEA_PORT=" in result.output
    assert "Traceback" not in result.output
