#!/usr/bin/env python3
# Receives a terminal master on a unix socket (as conmon does), types into it, prints what
# comes back until the container closes its side, and how the reading ended: "eio" (every
# slave closed, what conmon and containerd's shim wait for), "eof", or "deadline".
import errno, os, select, socket, sys, time
path = sys.argv[1]
typed = sys.argv[2].encode() if len(sys.argv) > 2 else b''
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
print('listening', flush=True)
conn, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
print('payload=' + msg.decode(), flush=True)
master = fds[0]
if typed:
    os.write(master, typed)
out = b''
end = 'deadline'
deadline = time.time() + 30  # only the point of giving up: a terminal ends at EIO
while time.time() < deadline:
    r, _, _ = select.select([master], [], [], 0.2)
    if not r:
        continue
    try:
        chunk = os.read(master, 4096)
    except OSError as e:
        end = 'eio' if e.errno == errno.EIO else 'error ' + str(e.errno)
        break
    if not chunk:
        end = 'eof'
        break
    out += chunk
print('output=' + repr(out.decode(errors='replace')), flush=True)
print('end=' + end, flush=True)
