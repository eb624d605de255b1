# h01_mro_subclasses.py (hostile sandbox test)
# tries: walk ().__class__.__mro__ to object.__subclasses__() and find os._wrap_close
# expect: static SandboxViolation: '__class__'
async def execute_query(image_filename):
    for cls in ().__class__.__mro__[1].__subclasses__():
        if cls.__name__ == "_wrap_close":
            return cls.__init__.__globals__["system"]("id")
