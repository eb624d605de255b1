# h05_generator_frame.py (hostile sandbox test)
# tries: generator gi_frame -> f_back -> f_globals of the runtime
# expect: static SandboxViolation: 'gi_frame'
async def execute_query(image_filename):
    gen = (x for x in [1])
    return gen.gi_frame.f_back.f_globals
