"""Loads libsyncstack.so and declares the C API's signatures (ctypes).

Where the library is looked for, in order:
  1. the path in the environment variable SYNCSTACK_LIB;
  2. libsyncstack.so next to this package (a copy installed with it);
  3. a build tree around the source checkout: build/<preset>/capi/;
  4. the system's library path (ctypes.util.find_library("syncstack")).
"""
import ctypes
import ctypes.util
import glob
import os

PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p,
                               ctypes.c_uint64, ctypes.c_uint64)
RECORD_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)


class SyncOptions(ctypes.Structure):
    """struct syncstack_sync_options, field for field."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("remote", ctypes.c_char_p),
        ("user", ctypes.c_char_p),
        ("password", ctypes.c_char_p),
        ("token", ctypes.c_char_p),
        ("device", ctypes.c_char_p),
        ("collections", ctypes.c_char_p),
        ("mode", ctypes.c_char_p),
        ("ca_file", ctypes.c_char_p),
        ("lock_wait_ms", ctypes.c_int64),
        ("allow_mass_delete", ctypes.c_int),
        ("progress", PROGRESS_FN),
        ("progress_context", ctypes.c_void_p),
    ]


def _candidates():
    given = os.environ.get("SYNCSTACK_LIB")
    if given:
        yield given
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libsyncstack.so")
    checkout = os.path.dirname(os.path.dirname(here))
    for preset in ("dev", "release"):
        yield os.path.join(checkout, "build", preset, "capi", "libsyncstack.so")
    for path in sorted(glob.glob(os.path.join(checkout, "build", "*", "capi",
                                              "libsyncstack.so"))):
        yield path
    found = ctypes.util.find_library("syncstack")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        return ctypes.CDLL(path)
    raise OSError("libsyncstack.so not found (set SYNCSTACK_LIB to its path); "
                  "looked at: " + ", ".join(tried))


def _declare(lib):
    status = ctypes.c_int
    dev = ctypes.c_void_p
    text = ctypes.c_char_p
    out = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "syncstack_version": (text, []),
        "syncstack_status_name": (text, [status]),
        "syncstack_last_error": (text, []),
        "syncstack_free": (None, [ctypes.c_void_p]),
        "syncstack_open": (status, [text, out]),
        "syncstack_close": (status, [dev]),
        "syncstack_put": (status, [dev, text, text, text, out]),
        "syncstack_delete": (status, [dev, text, text]),
        "syncstack_get": (status, [dev, text, text, out]),
        "syncstack_list": (status, [dev, text, out]),
        "syncstack_list_each": (status, [dev, text, RECORD_FN,
                                         ctypes.c_void_p]),
        "syncstack_collections": (status, [dev, out]),
        "syncstack_sync_options_init": (status, [ctypes.POINTER(SyncOptions)]),
        "syncstack_sync": (status, [dev, ctypes.POINTER(SyncOptions), out]),
        "syncstack_simulate": (status, [text, out]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _declare(_load())


def take(pointer):
    """The text of a string the library handed out, which is then freed."""
    if not pointer:
        return None
    try:
        return ctypes.string_at(pointer).decode("utf-8")
    finally:
        lib.syncstack_free(pointer)
