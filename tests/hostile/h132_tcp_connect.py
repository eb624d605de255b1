# h132_tcp_connect.py (hostile sandbox test)
# tries: connect to a TCP listener on the host's loopback
# expect: static SandboxViolation: import of 'socket' is not allowed
import socket


async def execute_query(image_filename):
    with socket.create_connection(("127.0.0.1", 47813), timeout=1) as conn:
        conn.sendall(b"escaped")
    return "connected"
