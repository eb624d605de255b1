# h57_print_file.py (hostile sandbox test)
# tries: print(file=...) to write somewhere else
# expect: runtime SandboxViolation: print(file=...)
class Sink:
    def write(self, text):
        pass


async def execute_query(image_filename):
    print("hello", file=Sink())
