"""Print a base port whose block of 10 ports per cluster (drlab's layout) is free now.

Usage: python free_base_port.py CLUSTERS
"""

import socket
import sys


def free_base_port(clusters):
    for base in range(38200, 48000, 100):
        if all(_free(port) for port in range(base, base + 10 * clusters)):
            return base
    raise SystemExit("no free block of ports for drlab")


def _free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


if __name__ == "__main__":
    print(free_base_port(int(sys.argv[1])))
