# The driver of the differential harness (tests/differential.rs).
#
#   driver.py setup ROOT CASES   builds the same fixture in ROOT/<id> for
#                                every case (always run without stockade)
#   driver.py run ROOT CASES     runs each case's code in ROOT/<id>, one line
#                                of results per case: "<id>\t<results>"
#
# CASES holds one case a line, "<id>\t<python code>". The code makes exact
# system calls through the helpers below, each of which appends what the
# caller can see (a return value or an errno name, fd flags, a socket name)
# to the case's results. Paths under the case directory are written as
# "@/" in the results, so runs in different roots compare equal.
import ctypes, errno, os, signal, socket, struct, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD = -100
LOG = []
FDS = []
CASE = b''


def _arg(a):
    if isinstance(a, int):
        return ctypes.c_long(a)
    return a


def raw(nr, *args):
    """The raw system call: (return value, errno)."""
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    return r, ctypes.get_errno()


def ename(e):
    return errno.errorcode.get(e, str(e))


def note(text):
    if isinstance(text, bytes):
        text = text.replace(CASE, b'@').decode('utf-8', 'backslashreplace')
    LOG.append(str(text))


def sc(nr, *args):
    """A call returning a number: logs it, or the errno's name."""
    r, e = raw(nr, *args)
    note(str(r) if r >= 0 else ename(e))
    return r


def fd(nr, *args):
    """A call returning a descriptor: logs its status flags, descriptor
    flags and file type and permissions, then closes it."""
    r, e = raw(nr, *args)
    if r < 0:
        note(ename(e))
        return r
    fl = libc.fcntl(ctypes.c_int(r), ctypes.c_int(3))  # F_GETFL
    fdfl = libc.fcntl(ctypes.c_int(r), ctypes.c_int(1))  # F_GETFD
    st = os.fstat(r)
    note('fd fl=%o cloexec=%d mode=%o size=%d' % (fl, fdfl, st.st_mode, st.st_size))
    os.close(r)
    return 0


def st(nr, *args, kind='stat'):
    """A stat-family call writing into a buffer (always the last argument
    but one for statx, the last otherwise): logs the result and the type
    and permission bits it returned."""
    buf = ctypes.create_string_buffer(256)
    args = [buf if a is BUF else a for a in args]
    r, e = raw(nr, *args)
    if r < 0:
        note(ename(e))
    elif kind == 'statx':
        note('0 mode=%o' % struct.unpack_from('H', buf.raw, 28)[0])
    else:
        note('0 mode=%o' % struct.unpack_from('I', buf.raw, 24)[0])
    return r


def rl(nr, *args):
    """readlink(at): logs the link's text."""
    buf = ctypes.create_string_buffer(4096)
    args = [buf if a is BUF else a for a in args]
    r, e = raw(nr, *args)
    note(ename(e) if r < 0 else b'link=' + buf.raw[:r])
    return r


BUF = object()


def keep(path, flags=os.O_PATH):
    """A descriptor for later calls (not logged), closed after the case."""
    try:
        n = os.open(path, flags)
    except OSError as e:
        note('keep:' + ename(e.errno))
        return -1
    FDS.append(n)
    return n


def A(rel):
    """An absolute path into the case directory."""
    return CASE + b'/' + rel


def how(flags, mode=0, resolve=0, size=24, extra=b''):
    """A struct open_how of `size` bytes (zero-padded or cut), then `extra`."""
    body = struct.pack('QQQ', flags, mode, resolve) + extra
    body = body.ljust(size, b'\0')[:size]
    buf = ctypes.create_string_buffer(body, len(body))
    how.keep.append(buf)
    return buf
how.keep = []


def ts(a, m):
    """Two timespecs; each side is (sec, nsec)."""
    return struct.pack('qqqq', a[0], a[1], m[0], m[1])


def tv(a, m):
    return struct.pack('qqqq', a[0], a[1], m[0], m[1])


UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


def xa(path):
    """Logs the user xattrs of `path` (not following a symlink)."""
    try:
        names = sorted(n for n in os.listxattr(path, follow_symlinks=False) if n.startswith('user.'))
        note('xattrs=' + ','.join('%s:%s' % (n, os.getxattr(path, n, follow_symlinks=False).decode()) for n in names))
    except OSError as e:
        note('xattrs:' + ename(e.errno))


def un(path):
    """A sockaddr_un for `path` (bytes), exactly as long as needed."""
    return struct.pack('H', socket.AF_UNIX) + path + b'\0'


def sock(kind=socket.SOCK_STREAM, family=socket.AF_UNIX):
    s = socket.socket(family, kind)
    FDS.append(s)
    return s


def sockname(s):
    try:
        note(b'name=' + os.fsencode(s.getsockname()))
    except OSError as e:
        note('name:' + ename(e.errno))


def peername(s):
    try:
        note(b'peer=' + os.fsencode(s.getpeername()))
    except OSError as e:
        note('peer:' + ename(e.errno))


def peercred(s):
    pid, uid, gid = struct.unpack('iii', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    note('peercred pid=%s uid=%d gid=%d' % ('self' if pid == os.getpid() else pid, uid, gid))


def accepted(srv):
    """Accepts one connection and logs the peer as the server sees it."""
    srv.settimeout(5)
    conn = srv.accept()[0]
    FDS.append(conn)
    peercred(conn)
    peername(conn)


def alarm(signum, frame):
    raise TimeoutError('the case blocked')


def fixture():
    """The tree every case starts from."""
    with open('f', 'wb') as fh:
        fh.write(b'data\n')
    os.chmod('f', 0o644)
    os.mkdir('e', 0o755)
    os.mkdir('d', 0o755)
    with open('d/x', 'wb') as fh:
        fh.write(b'x\n')
    os.chmod('d/x', 0o644)
    os.symlink('f', 'lf')
    os.symlink('e', 'ld')
    os.symlink('m', 'ln')
    os.symlink('lf', 'll')
    os.mkfifo('p', 0o644)
    k = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    k.bind('k')
    k.close()
    os.chmod('k', 0o755)
    os.utime('f', (1000, 2000))


def main():
    global CASE, LOG, FDS
    signal.signal(signal.SIGALRM, alarm)
    what, root, cases = sys.argv[1], os.fsencode(sys.argv[2]), sys.argv[3]
    with open(cases) as fh:
        lines = [l.rstrip('\n').split('\t', 1) for l in fh if l.strip()]
    out = []
    for cid, code in lines:
        CASE = root + b'/' + cid.encode()
        if what == 'setup':
            os.mkdir(CASE)
            os.chdir(CASE)
            fixture()
            continue
        os.chdir(CASE)
        LOG, FDS = [], []
        try:
            signal.alarm(10)
            exec(code, globals())
        except Exception as e:
            note('exception:' + type(e).__name__ + ':' + str(e).replace(os.fsdecode(CASE), '@'))
        signal.alarm(0)
        for n in FDS:
            try:
                n.close() if hasattr(n, 'close') else os.close(n)
            except OSError:
                pass
        how.keep = []
        out.append(cid + '\t' + ' '.join(LOG))
    if what == 'run':
        sys.stdout.write('\n'.join(out) + '\n')


main()
