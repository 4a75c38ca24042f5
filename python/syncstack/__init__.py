"""syncstack for Python: a device's store and its sync, and the policy
simulator, over the C API (libsyncstack.so, loaded with ctypes; nothing is
compiled against Python).

    import syncstack
    with syncstack.Device("sqlite:phone.db") as phone:
        rid = phone.put("todo", {"title": "milk"})
        report = phone.sync("http://127.0.0.1:8080", user="mark",
                            password="pw", progress=print)
    rows = syncstack.simulate(devices=3, skew=[0, 60],
                              policies=["lww", "server-clock"])

docs/python.md is the guide.
"""
import ctypes
import json

from . import _lib
from ._lib import lib

__all__ = ["Device", "simulate", "version", "SyncstackError",
           "InvalidArgumentError", "NotFoundError", "UnauthorizedError",
           "LockedError", "UnavailableError", "NotSupportedError",
           "AbortedError"]


class SyncstackError(Exception):
    """A failed call: `status` is the C API's code, `name` its name
    ("invalid_argument", ...), `message` the library's message."""

    def __init__(self, status, message):
        self.status = status
        self.name = lib.syncstack_status_name(status).decode()
        self.message = message
        super().__init__("%s: %s" % (self.name, message))


class InvalidArgumentError(SyncstackError, ValueError):
    pass


class NotFoundError(SyncstackError, KeyError):
    def __str__(self):
        return SyncstackError.__str__(self)


class UnauthorizedError(SyncstackError):
    pass


class LockedError(SyncstackError):
    pass


class UnavailableError(SyncstackError):
    pass


class NotSupportedError(SyncstackError):
    pass


class AbortedError(SyncstackError):
    pass


_ERRORS = {1: InvalidArgumentError, 2: NotFoundError, 3: UnauthorizedError,
           4: LockedError, 9: UnavailableError, 12: NotSupportedError,
           13: AbortedError}


def _check(status):
    if status != 0:
        message = lib.syncstack_last_error().decode("utf-8", "replace")
        raise _ERRORS.get(status, SyncstackError)(status, message)


def _text(value):
    return None if value is None else str(value).encode("utf-8")


def version():
    """The library's version, e.g. "0.1.0"."""
    return lib.syncstack_version().decode()


class Device:
    """A device's local store: "sqlite:PATH", "lmdb:DIR" or "memory:".

    Records are dicts (or JSON text) in, dicts out; ids are UUID strings.
    Every method raises a SyncstackError subclass on failure. A Device may
    be used from several threads; close() must not overlap other calls.
    """

    def __init__(self, uri):
        handle = ctypes.c_void_p()
        _check(lib.syncstack_open(_text(uri), ctypes.byref(handle)))
        self._handle = handle
        self.uri = uri

    def close(self):
        """Closes the store; the Device is unusable afterwards."""
        if self._handle:
            _check(lib.syncstack_close(self._handle))
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None):
            lib.syncstack_close(self._handle)
            self._handle = None

    def _h(self):
        if not self._handle:
            raise InvalidArgumentError(1, "the device is closed")
        return self._handle

    def put(self, collection, record, id=None):
        """Creates or replaces a record (a dict or JSON text); returns its
        id: `id`, else the record's id key, else a new UUID."""
        text = record if isinstance(record, str) else json.dumps(record)
        out = ctypes.c_void_p()
        _check(lib.syncstack_put(self._h(), _text(collection), _text(id),
                                 _text(text), ctypes.byref(out)))
        return _lib.take(out.value)

    def delete(self, collection, id):
        """Deletes the live record `id` (NotFoundError if there is none)."""
        _check(lib.syncstack_delete(self._h(), _text(collection), _text(id)))

    def get(self, collection, id):
        """The live record `id` as a dict with the id key, last_update and
        _state (NotFoundError if there is none)."""
        out = ctypes.c_void_p()
        _check(lib.syncstack_get(self._h(), _text(collection), _text(id),
                                 ctypes.byref(out)))
        return json.loads(_lib.take(out.value))

    def list(self, collection):
        """The live records of `collection`, in id order."""
        out = ctypes.c_void_p()
        _check(lib.syncstack_list(self._h(), _text(collection),
                                  ctypes.byref(out)))
        return json.loads(_lib.take(out.value))

    def each(self, collection, fn):
        """Calls fn(record dict) per live record without building the whole
        list; fn returning True stops the listing. Returns the count of
        records seen."""
        seen = [0]
        failure = []

        def on_record(_context, record_json):
            try:
                seen[0] += 1
                return 1 if fn(json.loads(record_json.decode())) else 0
            except BaseException as e:  # re-raised after the C call
                failure.append(e)
                return 1

        status = lib.syncstack_list_each(self._h(), _text(collection),
                                         _lib.RECORD_FN(on_record), None)
        if failure:
            raise failure[0]
        if status != 13:  # aborted: fn asked to stop
            _check(status)
        return seen[0]

    def collections(self):
        """Names of the collections holding records, sorted."""
        out = ctypes.c_void_p()
        _check(lib.syncstack_collections(self._h(), ctypes.byref(out)))
        return json.loads(_lib.take(out.value))

    def sync(self, remote, user, password=None, device=None, collections=None,
             mode=None, ca_file=None, token=None, lock_wait=60.0,
             allow_mass_delete=False, progress=None):
        """Syncs with the server at `remote` ("http://HOST:PORT"); returns
        the report as a dict. `progress(phase, done, total)` is called as
        the sync goes ("lock", "fetch", "plan", "exchange", "done");
        an exception it raises stops nothing but is raised afterwards."""
        options = _lib.SyncOptions()
        _check(lib.syncstack_sync_options_init(ctypes.byref(options)))
        options.remote = _text(remote)
        options.user = _text(user)
        options.password = _text(password)
        options.token = _text(token)
        options.device = _text(device)
        if collections is not None and not isinstance(collections, str):
            collections = ",".join(collections)
        options.collections = _text(collections)
        options.mode = _text(mode)
        options.ca_file = _text(ca_file)
        options.lock_wait_ms = int(lock_wait * 1000)
        options.allow_mass_delete = 1 if allow_mass_delete else 0
        failure = []
        if progress is not None:
            def on_progress(_context, phase, done, total):
                if failure:
                    return
                try:
                    progress(phase.decode(), done, total)
                except BaseException as e:
                    failure.append(e)
            callback = _lib.PROGRESS_FN(on_progress)
            options.progress = callback
        out = ctypes.c_void_p()
        status = lib.syncstack_sync(self._h(), ctypes.byref(options),
                                    ctypes.byref(out))
        _check(status)
        report = json.loads(_lib.take(out.value))
        if failure:
            raise failure[0]
        return report


def simulate(**options):
    """Runs the policy simulator (`syncstack simulate`) and returns its rows,
    one dict per (skew, policy). Options, all optional: devices, records,
    ops, offline, skew (a number or a list: a sweep), drift_ppm, loss, seed,
    clock_jump_years, max_clock_ahead_seconds (None: no bound),
    interval_ms, store ("memory" or "sqlite"), policies ("all" or names).
    """
    out = ctypes.c_void_p()
    _check(lib.syncstack_simulate(_text(json.dumps(options)),
                                  ctypes.byref(out)))
    return json.loads(_lib.take(out.value))
