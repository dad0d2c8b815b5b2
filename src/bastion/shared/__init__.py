"""State shared by every worker and instance through Redis.

``redis.RedisStorage`` is the client: one pipelined connection (``resp``) and the Lua
scripts shipped as package data (``lua/``), each multi-step change one round trip: rate
windows, token checks, revocations and account token versions. ``breaker.SharedRedis``
is the circuit breaker in front of it: callers get ``None`` at once while Redis is away
and fall back to the database or to local state. Auth, store and the rate limiter use
it; it knows nothing of them.
"""
