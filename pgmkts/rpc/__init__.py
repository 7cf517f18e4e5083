"""MarketStore-compatible HTTP side: msgpack-RPC (/rpc), stream (/ws), /healthz, /metrics."""
