# h167_sys_modules_hunt.py (hostile sandbox test)
# tries: look for a live Redis or Celery connection among loaded modules
# expect: static SandboxViolation: import of 'sys' is not allowed
import sys


async def execute_query(image_filename):
    found = []
    for name, module in list(sys.modules.items()):
        app = getattr(module, "app", None)
        if app is not None and hasattr(app, "conf"):
            found.append(str(app.conf.broker_url))
    return found
