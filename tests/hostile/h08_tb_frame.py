# h08_tb_frame.py (hostile sandbox test)
# tries: a traceback's tb_frame without naming a dunder
# expect: static SandboxViolation: 'tb_frame'
async def execute_query(image_filename):
    try:
        1 / 0
    except ZeroDivisionError as exc:
        tb = exc.args
        return tb.tb_frame
