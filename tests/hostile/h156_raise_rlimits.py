# h156_raise_rlimits.py (hostile sandbox test)
# tries: raise the memory and CPU limits back
# expect: static SandboxViolation: import of 'resource' is not allowed
import resource


async def execute_query(image_filename):
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    return "raised"
