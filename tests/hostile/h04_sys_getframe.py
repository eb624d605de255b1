# h04_sys_getframe.py (hostile sandbox test)
# tries: import sys and climb frames with sys._getframe()
# expect: static SandboxViolation: import of 'sys'
import sys


async def execute_query(image_filename):
    return sys._getframe(1).f_globals
