# h119_call_flood_caught.py (hostile sandbox test)
# tries: past the call budget, the program catches the error and goes on
# expect: runtime ProgramResourceError: budget
import hermod


async def execute_query(image_filename):
    done = 0
    for i in range(3000):
        try:
            await hermod.call("noop", value=i)
            done += 1
        except Exception:
            pass
    return done
