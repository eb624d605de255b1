# h135_raw_packet_socket.py (hostile sandbox test)
# tries: a raw packet socket to sniff the host's traffic
# expect: static SandboxViolation: import of 'socket' is not allowed
import socket


async def execute_query(image_filename):
    return str(socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
