"""PostgreSQL wire protocol 3.0 front door: sans-I/O framing/messages/types/auth, asyncio in connection.py."""
