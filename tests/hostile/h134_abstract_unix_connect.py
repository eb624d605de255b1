# h134_abstract_unix_connect.py (hostile sandbox test)
# tries: connect to an abstract unix socket of the host
# expect: static SandboxViolation: import of 'socket' is not allowed
import socket


async def execute_query(image_filename):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect("\0dicec-hostile")
    conn.sendall(b"escaped")
    return "connected"
