"""The Claude Code hook: `ctui hook [EVENT]` reads one hook payload on stdin and answers.

Claude Code starts this as a new process for every hook call, so it is the
product's hottest path: it imports the standard library and `ctui.core` only,
and each event's module is imported when that event arrives. The command that
`ctui hooks install` writes runs Python with `-I -S` (see `ctui.hooks.settings`):
site-packages are not needed here, and skipping `site` halves start-up.

Answers follow Claude Code's documented contract:

* exit 0 with nothing on stdout: allowed, nothing to say;
* exit 0 with one JSON document: a PreToolUse deny, or `additionalContext`;
* exit 1 with one line on stderr: a non-blocking error. Garbage input, an
  unknown event, a missing or corrupt store and a database locked past the
  short busy timeout all land here, and the store is left unchanged.

The lease check (PreToolUse) is the exception: it never fails open. When it
cannot answer (a locked or corrupt store) or crashes on something unexpected,
it denies with a one-line reason that says to retry (see `ctui.hooks.edits`),
and `ctui.hooks.call.run` keeps that as a last guard for a crash outside it.

It never exits 2, which would block the agent with our error as the reason.
The store is never created by a hook: see `ctui.hooks.session.open_store`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ctui.hooks.call import MAX_INPUT, HookInputError

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

READ_DEADLINE_S = 2.0
IDLE_GAP_S = 0.05


def read_stdin(
    fd: int = 0, *, limit: int = MAX_INPUT, deadline_s: float = READ_DEADLINE_S
) -> bytes:
    """All of stdin, read with a size cap and a deadline instead of trusting EOF.

    A writer that never closes the pipe would otherwise hang the hook (Claude
    Code does not enforce the hook timeout while a hook blocks on stdin). When
    the data pauses for a moment and what came so far is a whole JSON
    document, that is taken as the end.
    """
    import select
    import time

    if os.isatty(fd):
        raise HookInputError(
            "ctui hook reads a Claude Code hook payload (JSON) on stdin, not a terminal"
        )
    chunks: list[bytes] = []
    size = 0
    end = time.monotonic() + deadline_s
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], min(left, IDLE_GAP_S) if chunks else left)
        if not ready:
            if chunks and chunks[-1].rstrip().endswith(b"}") and _whole_json(chunks):
                break
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise HookInputError(f"hook payload larger than {limit // (1024 * 1024)} MiB: ignored")
        chunks.append(chunk)
    if not chunks:
        raise HookInputError(f"no hook payload on stdin (waited up to {deadline_s:g}s for one)")
    return b"".join(chunks)


def _whole_json(chunks: list[bytes]) -> bool:
    from ctui.core import fastjson

    try:
        fastjson.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        return False
    return True


def main(argv: Sequence[str] = ()) -> int:
    """Entry point for `ctui hook [EVENT]` and for the command `hooks install` writes.

    The call is answered here, or by `ctui serve` on this host when the store
    says so (`ctui.hooks.route`): on a PostgreSQL store this process never
    opens the store, so it never imports a database driver.
    """
    args = list(argv)
    if args[:1] in (["-h"], ["--help"]):
        print(
            "usage: ctui hook [EVENT] < payload.json  (Claude Code runs it: `ctui hooks install`)"
        )
        return 0
    from ctui.hooks import call

    try:
        raw = read_stdin()
        payload = call.parse(raw, args[0] if args else None)
    except HookInputError as exc:
        code, out, err = call.fail(str(exc))
    else:
        from ctui.hooks import route

        store = route.served_store(payload["cwd"])
        if store is not None:
            event = payload["hook_event_name"]
            code, out, err = route.ask(store, raw, args, event, call.is_lease_check(payload))
        else:
            code, out, err = call.run(payload)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


DEFERRED = ("inspect", "ipaddress", "ntpath", "warnings", "fnmatch", "urllib.parse", "re")
STUBS = {"urllib.parse": ("quote_from_bytes",)}
"""Names other modules take with `from NAME import ATTR` at import time (pathlib does this
one for `Path.as_uri`): each gets a stand-in that loads NAME when it is called."""


def defer_imports(names: Sequence[str] = DEFERRED) -> None:
    """Let `import NAME` succeed at once and load NAME at its first attribute access.

    Measured with `-X importtime` and in CPU time per call, these modules cost
    the hook a few milliseconds and it never uses them: `dataclasses` imports
    `inspect` (the core's records no longer use `dataclasses`, see
    `ctui.core.record`, so this is a guard against one coming back); `pathlib`
    imports `ntpath` (Windows paths), `fnmatch` (its globs), `warnings` (its
    deprecations) and `urllib.parse` (`as_uri`, which loads `ipaddress`), none
    of which a hook call reaches. Anything that does touch them gets the real
    module, loaded on the spot. Only the hook process does this.
    """
    from types import ModuleType  # loaded by the core anyway (enum, typing)

    def load(module: ModuleType) -> ModuleType:
        name = module.__name__
        if sys.modules.get(name) is module:
            del sys.modules[name]
        import importlib

        real = importlib.import_module(name)
        module.__dict__.update(real.__dict__)
        return real

    class Deferred(ModuleType):
        def __getattr__(self, attr: str) -> Any:
            if attr.startswith("__"):  # `from NAME import x` asks for `__path__`: no load
                raise AttributeError(attr)
            return getattr(load(self), attr)

    def stub(module: ModuleType, attr: str) -> Any:
        return lambda *args, **kwargs: getattr(load(module), attr)(*args, **kwargs)

    for name in names:
        if name not in sys.modules:
            module = sys.modules[name] = Deferred(name)
            for attr in STUBS.get(name, ()):
                setattr(module, attr, stub(module, attr))


def run() -> None:
    """`python -c "...; ctui.hook.run()"`: exit with `main`'s code, skipping interpreter teardown.

    `os._exit` after flushing saves the teardown and, above all, SQLite's
    checkpoint-on-close: the hook's connection is usually the last one open,
    and closing it would copy the WAL into the database (with an fsync) on
    every edit. Committed transactions are already durable in the WAL; the
    next writer's automatic checkpoint folds them in.
    """
    import gc

    gc.disable()  # a process of a few dozen ms: the collector would only walk the imports
    defer_imports()
    code = main(sys.argv[1:])
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    run()
