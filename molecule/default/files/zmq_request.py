"""Sends one ZMQ REQ request and prints the JSON reply.

Usage: python3 zmq_request.py ENDPOINT [REQUEST]   (REQUEST defaults to a ping)
Exits 1 when no reply comes within five seconds.
"""

import json
import sys

import zmq


def main():
    endpoint = sys.argv[1]
    request = sys.argv[2] if len(sys.argv) > 2 else json.dumps({"action": "ping"})
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.connect(endpoint)
    try:
        sock.send_string(request)
        reply = sock.recv()
    except zmq.Again:
        print(f"no reply from {endpoint} within 5 s", file=sys.stderr)
        return 1
    finally:
        sock.close()
        context.term()
    print(json.dumps(json.loads(reply)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
