# h21_socket.py (hostile sandbox test)
# tries: open a network socket
# expect: static SandboxViolation: import of 'socket'
async def execute_query(image_filename):
    import socket
    return socket.create_connection(("example.com", 80))
