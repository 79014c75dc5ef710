#!/usr/bin/env python3
"""A seccomp agent for SCMP_ACT_NOTIFY tests: listens on a unix socket (listenerPath), takes each
connection's message and descriptor (runtime.md "containerProcessState", SCM_RIGHTS), prints the
message as one JSON line, and answers every notification of that listener with -ERRNO (the
notified system call fails with it), printing "answered <syscall nr>". Node cannot receive
descriptors, so this is Python (socket.recv_fds).
    seccomp-agent.py SOCKET_PATH ERRNO"""
import fcntl
import json
import os
import socket
import struct
import sys

# <linux/seccomp.h>: _IOWR('!', 0, struct seccomp_notif) (80 bytes), _IOWR('!', 1, struct
# seccomp_notif_resp) (24 bytes).
NOTIF_RECV = (3 << 30) | (80 << 16) | (0x21 << 8) | 0
NOTIF_SEND = (3 << 30) | (24 << 16) | (0x21 << 8) | 1


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def serve(listener, errno):
    while True:
        notif = bytearray(80)
        try:
            fcntl.ioctl(listener, NOTIF_RECV, notif, True)
        except OSError:
            return  # every process of the filter is gone
        notif_id, _pid, _flags, nr = struct.unpack_from("=QIIi", notif)
        try:
            fcntl.ioctl(listener, NOTIF_SEND, struct.pack("=QqiI", notif_id, 0, -errno, 0), False)
        except OSError:
            continue  # the call was interrupted meanwhile
        say("answered %d" % nr)


def main():
    path, errno = sys.argv[1], int(sys.argv[2])
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    say("listening")
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 4)
            conn.close()
            say(json.dumps({"message": json.loads(message), "fds": len(fds)}))
            if len(fds) == 1:
                serve(fds[0], errno)
            os._exit(0)
        conn.close()


main()
