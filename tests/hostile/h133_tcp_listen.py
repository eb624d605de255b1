# h133_tcp_listen.py (hostile sandbox test)
# tries: open a listening socket (a backdoor)
# expect: static SandboxViolation: import of 'socket' is not allowed
import socket


async def execute_query(image_filename):
    server = socket.create_server(("0.0.0.0", 47814))
    return str(server.getsockname())
