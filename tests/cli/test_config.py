"""mkts.yml validation: defaults, MarketStore keys, and one clear line naming a bad key."""

from __future__ import annotations

import pytest
import yaml

from pgmkts.config import DEFAULT_YAML, Config, load_config, parse_config
from pgmkts.errors import ConfigError


def test_default_yaml_parses_to_defaults():
    cfg = parse_config(yaml.safe_load(DEFAULT_YAML))
    assert cfg.listen_port == 5993 and cfg.rpc_listen_port == 5994
    assert cfg.wal_sync == "commit" and cfg.auth.method == "trust"
    assert cfg == Config(limits=cfg.limits)


def test_marketstore_config_is_accepted_with_warnings():
    # A MarketStore user's mkts.yml (cmd/create/default.yml shape) must start unchanged.
    raw = yaml.safe_load("""
root_directory: /project/data
listen_port: 5993
grpc_listen_port: 5995
log_level: info
stop_grace_period: 0
wal_rotate_interval: 5
stale_threshold: 5
enable_add: true
enable_remove: false
triggers:
  - module: ondiskagg.so
    on: "*/1Min/OHLCV"
    config:
      destinations: [5Min, 15Min, 1H, 1D]
bgworkers: []
""")
    warnings: list[str] = []
    cfg = parse_config(raw, warn=warnings.append)
    assert cfg.root_directory == "/project/data"
    assert cfg.triggers[0].module == "ondiskagg.so"
    assert cfg.triggers[0].config["destinations"] == ["5Min", "15Min", "1H", "1D"]
    assert len(warnings) == 3 and any("grpc_listen_port" in w for w in warnings)


@pytest.mark.parametrize("raw, words", [
    ({"listen_prot": 1}, ["listen_prot", "listen_port"]),
    ({"listen_port": "abc"}, ["listen_port", "int"]),
    ({"listen_port": 70000}, ["listen_port", "70000"]),
    ({"queryable": "yes"}, ["queryable"]),
    ({"wal_sync": "sometimes"}, ["wal_sync", "commit"]),
    ({"timezone": "Mars/Olympus"}, ["timezone", "Mars/Olympus"]),
    ({"auth": {"method": "kerberos"}}, ["auth.method"]),
    ({"auth": {"method": "md5"}}, ["auth.users"]),
    ({"limits": {"max_conections": 3}}, ["limits.max_conections", "max_connections"]),
    ({"triggers": [{"on": "*/1Min/OHLCV"}]}, ["triggers[0]", "module"]),
    ({"tls": {"required": True}}, ["tls.required"]),
])
def test_bad_values_name_the_key(raw, words):
    with pytest.raises(ConfigError) as ei:
        parse_config(raw)
    msg = str(ei.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_load_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("listen_port: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_auth_users_and_roles():
    cfg = parse_config({"auth": {"method": "scram-sha-256", "users": [
        {"name": "alice", "password": "secret"}, {"name": "bob", "password": 1234, "role": "readonly"}]}})
    assert [(u.name, u.role) for u in cfg.auth.users] == [("alice", "readwrite"), ("bob", "readonly")]
    assert cfg.auth.users[1].password == "1234"
