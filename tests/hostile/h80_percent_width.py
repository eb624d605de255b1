# h80_percent_width.py (hostile sandbox test)
# tries: '%10000000000d' % 1: a 10 GB string made in one C call
# expect: runtime ProgramResourceError: % formatting would make a string
async def execute_query(image_filename):
    return len("%10000000000d" % 1)
