"""pgmkts: a PostgreSQL-wire and MarketStore-compatible server for financial time series."""

__version__ = "0.1.0"
