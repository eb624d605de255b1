# h136_udp_dns.py (hostile sandbox test)
# tries: a UDP datagram to a DNS server
# expect: static SandboxViolation: import of 'socket' is not allowed
import socket


async def execute_query(image_filename):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return s.sendto(b"x", ("8.8.8.8", 53))
