# h166_gc_secret_hunt.py (hostile sandbox test)
# tries: search the process's memory for the orchestrator's secrets
# expect: static SandboxViolation: import of 'gc' is not allowed
import gc


async def execute_query(image_filename):
    return [o for o in gc.get_objects() if isinstance(o, str) and "hostile-secret" in o][:3]
