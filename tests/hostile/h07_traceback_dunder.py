# h07_traceback_dunder.py (hostile sandbox test)
# tries: exception.__traceback__ to reach frames
# expect: static SandboxViolation: '__traceback__'
async def execute_query(image_filename):
    try:
        1 / 0
    except ZeroDivisionError as exc:
        return exc.__traceback__.tb_frame.f_back.f_globals
