# h137_redis_ping.py (hostile sandbox test)
# tries: use the redis library to reach the orchestrator's Redis
# expect: static SandboxViolation: import of 'redis' is not allowed
import redis


async def execute_query(image_filename):
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    return str(client.keys("*")[:5])
