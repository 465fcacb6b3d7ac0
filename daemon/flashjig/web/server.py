"""The status page's server: aiohttp on a thread of its own (its own event loop), beside the
station, reading what ``flashjig status --json`` reads.

- ``/``: the page (``static/``: HTML, CSS and a small script, all shipped with the package);
- ``/api/status``: the station's status, as ``flashjig status --json`` prints it;
- ``/api/report``: the morning report as data (``flashjig.station.report.summary``), for
  ``?since=`` (a date, ``today``, ``12h``...) or the whole journal; ``/plots/per-hour.png``
  and ``/plots/reasons.png``: its modules per hour and failures by reason (``plots``;
  ``?scheme=dark`` for a page in the dark scheme);
- ``/api/commands``: the commands the page may send (``web.commands``), and
  ``POST /api/commands/NAME`` to send one (see ``_command``);
- ``/downloads/units.csv`` and ``/downloads/labels.pdf``: the morning's files, for
  ``?since=`` or the whole journal: the units as ``flashjig report --csv`` writes them, and
  their labels on A4 sheets as ``flashjig labels --pdf`` makes them (the layout of the
  station's config): 404 when no unit was flashed ok, 409 for a label that cannot be made;
- ``/events``: server-sent events, ``status`` with the whole status at most four times a
  second while sockets change (and every 15 s regardless, which keeps proxies from closing
  the stream), so the page follows a flash without reloading; the status is built once
  per change and sent to every stream (``_StatusFeed``).

With ``password_file`` every request needs HTTP basic auth (``user`` and the file's first
line, as ``config.passwords`` reads it); a wrong or missing one gets 401 and nothing else.
The server never blocks the station: a socket change only sets an event on the server's
loop, and reports are added up in SQL on the page's own read-only journal connection, one
at a time. Whoever connects, the page takes a bounded share of the daemon (see IDLE_S).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import importlib.resources
import json
import logging
import pickle
import socket
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from flashjig.config import LabelLayout, WebConfig
from flashjig.config.labelcode import LabelError
from flashjig.config.passwords import read_password
from flashjig.errors import CommandError, ControlError
from flashjig.station.commands import StationCommands
from flashjig.station.journal import Journal
from flashjig.station.report import summary, units, units_csv
from flashjig.station.requests import ControlRequests
from flashjig.station.status import SocketStatus
from flashjig.web.guard import LoginThrottle, allowed_host, same_origin

if TYPE_CHECKING:  # Pillow, imported when labels are asked for
    from flashjig.station.labels import Label

log = logging.getLogger(__name__)

STATIC = importlib.resources.files("flashjig.web") / "static"
EVENT_MIN_S = 0.25  # at most four status events a second
KEEPALIVE_S = 15.0
# What the page may hold of the daemon: a connection that sends no request (or nothing
# more after one) is closed after IDLE_S (aiohttp's keep-alive timeout, which it also
# applies before the first request: 3630 s by default); at most MAX_CONNECTIONS are open
# at once, well below the unit's file limit (its LimitNOFILE), so the daemon never runs out
# of descriptors for serial ports, the journal and the control socket, and the rest wait
# in the kernel's backlog; at most MAX_STREAMS of them are event streams.
IDLE_S = 10.0
MAX_CONNECTIONS = 256
MAX_STREAMS = 64
SILENT_S = 5.0  # at the cap, a connection silent this long is closed for a new one
CROWDED_POLL_S = 0.1
BACKLOG = 128
UNITS_SHOWN = 1000  # the report's units on the page: the most recent (``modules``: all)
# The most labels one PDF from the page holds (some 13 ms and 2.7 kB of PDF a label, made
# apart, the PDF held whole by the daemon while it is sent): a day or two of a busy bench;
# the command line makes any number.
LABELS_AT_ONCE = 2000
SHEET_TIMEOUT_S = 120.0  # twice what LABELS_AT_ONCE take: a child that hangs is killed
# The most units one CSV from the page holds (some 80 bytes each, made whole in memory).
UNITS_AT_ONCE = 50_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ReportKey = tuple[datetime | None, int]  # a report's since and the journal's data_version
# What the page may ask of the station (web.commands): the control socket's requests of
# these names, checked and answered by the same code, refused in the same words.
PAGE_COMMANDS = ("flash", "cancel", "drain", "resume", "profile")
MAX_COMMAND_BYTES = 1024
# How soon a page that lost its stream (the station restarting) tries again: a browser's own
# default is about 3 s.
RECONNECT_FRAME = b"retry: 2000\n\n"


class StatusPage:
    def __init__(
        self,
        config: WebConfig,
        commands: StationCommands,
        *,
        parse_since: Callable[[str], datetime],
    ) -> None:
        self.config = config
        self.commands = commands
        self.station = commands.station
        self.journal = commands.station.journal
        self._unsubscribe: Callable[[], None] | None = None
        self._parse_since = parse_since
        self._password = _password(config)
        self._requests = ControlRequests(commands)
        self._logins = LoginThrottle()
        self._loop = asyncio.new_event_loop()
        self._streams = 0  # event streams open
        self._feed: _StatusFeed | None = None  # made on the server's loop
        self._reader: Journal | None = None  # the page's own read-only journal connection
        self._reporting = asyncio.Lock()
        self._drawing = asyncio.Lock()  # one picture drawn at a time (in the daemon)
        self._sheeting = asyncio.Lock()  # one sheet of labels made at a time (apart)
        self._last_report: tuple[ReportKey, dict[str, Any]] | None = None
        # The last drawn of each picture, light and dark.
        self._pictures: dict[tuple[str, bool], tuple[ReportKey, bytes]] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._listening: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._crowding = 0  # times a connection had to wait at the cap, this time
        self._evicted = 0  # silent connections closed to make room, this time
        self._open = 0  # connections handed to aiohttp and not yet lost
        self._silent: dict[_Counted, None] = {}  # of those, the ones that sent nothing yet
        self._ready = threading.Event()
        self._failure: Exception | None = None
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}/"

    @property
    def port(self) -> int:
        """The port listened on (the config's; with 0, the one the system gave)."""
        if not self._listening:
            return self.config.port
        return int(self._listening[0].getsockname()[1])

    def start(self) -> None:
        """Listen; a page that cannot (its port taken, say) is logged and left out: the
        station goes on without it."""
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            where = f"{self.config.host}:{self.config.port}"
            log.error("the status page cannot listen on %s: %s", where, self._failure)
            return
        self._unsubscribe = self.station.subscribe(self._socket_changed, self._station_changed)
        log.info("status page at %s", self.url)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    # -- the loop ------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen())
        except Exception as e:  # start() says it, on the caller's thread
            self._failure = e
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _listen(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.on_response_prepare.append(_unframed)
        app.router.add_get("/", self._index)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/report", self._report)
        app.router.add_get("/plots/{name}.png", self._plot)
        app.router.add_get("/downloads/units.csv", self._units_csv)
        app.router.add_get("/downloads/labels.pdf", self._labels_pdf)
        app.router.add_get("/events", self._events)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/commands", self._offered)
        app.router.add_post("/api/commands/{name}", self._command)
        # An event stream is closed at once on shutdown, not after aiohttp's 60 s grace.
        # A page closed mid-stream ends its handler at once (handler_cancellation), not at
        # the stream's next write, up to 15 s later, holding a place among MAX_STREAMS.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=1.0,
            keepalive_timeout=IDLE_S,
            handler_cancellation=True,
        )
        await self._runner.setup()
        self._feed = _StatusFeed(lambda: self.commands.status().as_dict())
        # The listening sockets are ours: a connection is accepted only when there is room
        # for it, so a flood waits in the kernel's backlog instead of costing the daemon.
        for family, kind, proto, _, address in socket.getaddrinfo(
            self.config.host, self.config.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            listening = socket.socket(family, kind, proto)
            try:
                listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:  # as asyncio does: v6 only, v4 on its own
                    listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                listening.bind(address)
                listening.listen(BACKLOG)
                listening.setblocking(False)
            except OSError:
                listening.close()
                for other in self._listening:
                    other.close()
                raise
            self._listening.append(listening)
        self._accepting = [self._loop.create_task(self._accept(s)) for s in self._listening]

    async def _accept(self, listening: socket.socket) -> None:
        """Accept connections while there is room. At the cap, once another connection
        waits, the oldest one that has sent nothing for SILENT_S is closed to make room for
        it (a flood of silent connections cannot keep a person out for long); with none
        such, nothing is accepted until one is, or until a connection ends. A failure to
        accept (out of descriptors) is said once, and tried again a second later."""
        failing = False
        while True:
            while self._open >= MAX_CONNECTIONS:
                if not self._crowding:
                    log.warning(
                        "status page: %d connections open, the most it takes: new ones wait",
                        MAX_CONNECTIONS,
                    )
                self._crowding += 1
                await self._someone_waits(listening)
                if self._open < MAX_CONNECTIONS or self._make_room():  # one may have ended
                    break
                await asyncio.sleep(CROWDED_POLL_S)
            if self._crowding and self._open < MAX_CONNECTIONS - 1:
                log.warning(
                    "status page: room again (%d silent connections closed meanwhile)",
                    self._evicted,
                )
                self._crowding = self._evicted = 0
            try:
                connection, _ = await self._loop.sock_accept(listening)
            except OSError as e:
                if not failing:
                    log.error("status page: cannot accept connections: %s", e.strerror or e)
                failing = True
                await asyncio.sleep(1.0)
                continue
            if failing:
                log.info("status page: accepting connections again")
                failing = False
            assert self._runner is not None and self._runner.server is not None
            handler = _Counted(self._runner.server(), self)
            try:
                await self._loop.connect_accepted_socket(handler.itself, connection)
            except OSError:
                handler.connection_lost(None)
                connection.close()

    async def _someone_waits(self, listening: socket.socket) -> None:
        """Return once a connection waits in ``listening``'s backlog: room is made for one
        that is there, never ahead of it (a silent connection closed with nobody waiting
        would leave the page one below the cap for good)."""
        waiting: asyncio.Future[None] = self._loop.create_future()

        def readable() -> None:
            if not waiting.done():
                waiting.set_result(None)

        self._loop.add_reader(listening.fileno(), readable)
        try:
            await waiting
        finally:
            self._loop.remove_reader(listening.fileno())

    def _make_room(self) -> bool:
        """Close the oldest connection that has been silent for SILENT_S, if there is one."""
        now = self._loop.time()
        for connection in self._silent:
            if now - connection.since >= SILENT_S:
                connection.close()
                self._evicted += 1
                return True
            break  # the oldest is too young: the rest are younger
        return False

    async def _shutdown(self) -> None:
        """Close the open event streams, then the server."""
        self._closing = True
        if self._feed is not None:
            await self._feed.close()
        for task in self._accepting:
            task.cancel()
        await asyncio.gather(*self._accepting, return_exceptions=True)
        for listening in self._listening:
            listening.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._reader is not None:
            self._reader.close()

    def _socket_changed(self, status: SocketStatus) -> None:
        self._station_changed()

    def _station_changed(self) -> None:
        """A station listener (any thread): tell the feed, nothing more."""
        feed = self._feed
        if feed is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(feed.changed)

    # -- requests ------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not allowed_host(request.host, self.config.host):
            return web.Response(status=421, text="this station is not reached by that name\n")
        if self._password is not None and not self._authorised(request):
            if "Authorization" in request.headers:  # a wrong password, not a first visit
                await self._wrong_password(request)
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="flashjig"'})
        if self._password is not None:
            self._logins.succeeded(request.remote or "")
        return await handler(request)

    async def _wrong_password(self, request: web.Request) -> None:
        """Log it, and after a few in a row from one address, answer it slowly."""
        address = request.remote or "unknown"
        count = self._logins.failed(address)
        log.warning("status page: wrong password from %s (%d in a row)", address, count)
        await asyncio.sleep(self._logins.delay(address))

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        assert self._password is not None
        expected = f"{self.config.user}:{self._password}".encode()
        return hmac.compare_digest(f"{user}:{password}".encode(), expected)

    async def _offered(self, request: web.Request) -> web.Response:
        """The commands this page may send (none unless web.commands): the page shows its
        buttons by this."""
        return web.json_response({"commands": list(PAGE_COMMANDS) if self.config.commands else []})

    async def _command(self, request: web.Request) -> web.Response:
        """A command from the page: off unless the config allows it (and then only with
        the password: the config refuses one without), from the page's own origin, as
        JSON; carried out and answered as the control socket answers it."""
        name = request.match_info["name"]
        if not self.config.commands:
            return _refused(403, "commands from the page are off (web.commands in the config)")
        origin = request.headers.get("Origin")
        if not same_origin(origin, request.scheme, request.host):
            log.warning(
                "status page: a command from another site (%s) refused, from %s",
                origin,
                request.remote,
            )
            return _refused(403, "a page of another site may not command this station")
        if name not in PAGE_COMMANDS:
            return _refused(404, f"unknown command {name!r}")
        if request.content_type != "application/json":
            return _refused(415, "send the command's arguments as JSON")
        body = await request.content.read(MAX_COMMAND_BYTES + 1)
        try:
            if len(body) > MAX_COMMAND_BYTES:
                raise ValueError("too long")
            arguments = json.loads(body or b"{}")
            if not isinstance(arguments, dict):
                raise ValueError("expected a JSON object")
        except (ValueError, RecursionError) as e:
            return _refused(400, f"bad request: {e}")
        try:
            answer = await asyncio.to_thread(self._requests, {**arguments, "cmd": name})
        except ControlError as e:
            return _refused(400, str(e))
        except CommandError as e:
            return _refused(409, str(e))
        log.info("status page: %s from %s", name, request.remote)
        return web.json_response(answer)

    async def _index(self, request: web.Request) -> web.Response:
        return _asset("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        return _asset(request.match_info["name"])

    async def _status(self, request: web.Request) -> web.Response:
        status = await asyncio.to_thread(self.commands.status)
        return web.json_response(status.as_dict())

    async def _report(self, request: web.Request) -> web.Response:
        _, report = await self._summary(request)
        return web.json_response(report)

    async def _plot(self, request: web.Request) -> web.Response:
        """A picture of the report, drawn once per report (matplotlib takes the station's
        CPU and its GIL from the sockets' threads: a page per person must not redraw it
        per person), one drawing at a time."""
        from flashjig.web import plots

        name = request.match_info["name"]
        draw = {"per-hour": plots.per_hour, "reasons": plots.reasons}.get(name)
        if draw is None:
            raise web.HTTPNotFound()
        dark = request.query.get("scheme") == "dark"  # as the page is shown
        key, report = await self._summary(request)
        async with self._drawing:
            drawn = self._pictures.get((name, dark))
            if drawn is None or drawn[0] != key:
                drawn = (key, await asyncio.to_thread(lambda: draw(report, dark=dark)))
                self._pictures[name, dark] = drawn
        return web.Response(body=drawn[1], content_type="image/png")

    async def _units_csv(self, request: web.Request) -> web.Response:
        since = self._since(request)
        async with self._journal_reader() as reader:
            how = "flashjig report --since WHEN --csv FILE"
            await _at_most(reader, since, UNITS_AT_ONCE, "units", how, _when(request, since))
            body = await asyncio.to_thread(lambda: units_csv(units(reader, since)).encode())
        name = f"flashjig-units-{_file_date(since)}.csv"
        return _download(body, name, content_type="text/csv", charset="utf-8")

    async def _labels_pdf(self, request: web.Request) -> web.Response:
        """The labels of the units flashed ok, their last ok attempts, on A4 sheets."""
        from flashjig.station.labels import last_ok_labels

        since = self._since(request)
        when = _when(request, since)
        async with self._journal_reader() as reader:
            how = "flashjig labels --since WHEN --pdf FILE"
            await _at_most(reader, since, LABELS_AT_ONCE, "labels", how, when)
            labels = await asyncio.to_thread(lambda: last_ok_labels(reader.attempts(since=since)))
        if not labels:
            raise web.HTTPNotFound(text=f"no unit flashed ok {when}")
        layout = self.station.config.station.labels.layout
        async with self._sheeting:
            try:
                body = await _sheet_apart(labels, layout)
            except LabelError as e:
                raise web.HTTPConflict(text=str(e)) from None
            except (OSError, RuntimeError, TimeoutError) as e:
                said = f"the labels' PDF could not be made: {str(e) or 'it took too long'}"
                log.error("status page: %s", said)
                raise web.HTTPInternalServerError(text=said) from None
        name = f"flashjig-labels-{_file_date(since)}.pdf"
        return _download(body, name, content_type="application/pdf")

    def _since(self, request: web.Request) -> datetime | None:
        """``?since=`` (None: the whole journal); 400 for a WHEN it cannot read."""
        since_text = request.query.get("since")
        try:
            return self._parse_since(since_text) if since_text else None
        except ValueError as e:
            raise web.HTTPBadRequest(text=str(e)) from None

    @contextlib.asynccontextmanager
    async def _journal_reader(self) -> AsyncIterator[Journal]:
        """The page's own read-only journal connection (the station's lock and connection
        stay the station's), to one reader at a time: a page reloaded by many people
        queues, it does not multiply the work."""
        async with self._reporting:
            if self._reader is None:
                self._reader = await asyncio.to_thread(
                    Journal, self.journal.path, station=self.journal.station, readonly=True
                )
            yield self._reader

    async def _summary(self, request: web.Request) -> tuple[ReportKey, dict[str, Any]]:
        """The report for ``?since=`` (else the whole journal), added up in SQL on the
        page's journal reader; with what it was made of (since, the journal's version)."""
        since = self._since(request)
        async with self._journal_reader() as reader:
            # The same report again (a second page, its pictures) while nothing was written.
            key = (since, await asyncio.to_thread(reader.data_version))
            if self._last_report is None or self._last_report[0] != key:
                report = await asyncio.to_thread(summary, reader, since, units_limit=UNITS_SHOWN)
                self._last_report = (key, report)
            return self._last_report

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if self._streams >= MAX_STREAMS:
            raise web.HTTPServiceUnavailable(
                text=f"{MAX_STREAMS} pages are following the station already",
                headers={"Retry-After": "30"},
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx in front: pass each event on at once
            }
        )
        await response.prepare(request)
        await response.write(RECONNECT_FRAME)
        assert self._feed is not None  # made before the server listens
        self._streams += 1
        try:
            async for frame in self._feed.frames():
                await response.write(frame)
        except ConnectionResetError:  # the browser went away
            pass
        finally:
            self._streams -= 1
        return response


async def _at_most(
    reader: Journal, since: datetime | None, most: int, what: str, how: str, when: str
) -> None:
    """Refuse a download of more than ``most`` modules' lines (400: ask for a later since),
    counted in SQL before a row is read: a two-year journal is not read to be refused."""
    modules, _, _ = await asyncio.to_thread(reader.modules, since=since, limit=0)
    if modules > most:
        raise web.HTTPBadRequest(
            text=f"{modules} modules {when}: the page makes at most {most} {what} at once; "
            f"{how} makes any number"
        )


def _when(request: web.Request, since: datetime | None) -> str:
    """The download's since in the person's words."""
    return f"since {request.query['since']}" if since else "in the journal"


async def _sheet_apart(labels: list[Label], layout: LabelLayout) -> bytes:
    """The labels' PDF, made by a process of its own (flashjig.station.labelsheet): not
    seconds of the daemon's GIL. Killed if the page that asked goes away first."""
    from flashjig.station.labelsheet import LABEL_REFUSED

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",  # not the working directory first on the path: only the installed package
        "-m",
        "flashjig.station.labelsheet",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(SHEET_TIMEOUT_S):
            pdf, errors = await child.communicate(pickle.dumps((labels, layout)))
    except BaseException:
        with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
            child.kill()
        await asyncio.shield(child.wait())
        raise
    said = errors.decode(errors="replace").strip()
    if child.returncode == LABEL_REFUSED:
        raise LabelError(said)
    if child.returncode != 0:
        raise RuntimeError(said.splitlines()[-1] if said else f"exit {child.returncode}")
    return pdf


async def _unframed(request: web.Request, response: web.StreamResponse) -> None:
    """No page of another site may show this one in a frame: a click there would be a
    click here, from here (clickjacking gets past the Origin check)."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"


def _download(
    body: bytes, name: str, *, content_type: str, charset: str | None = None
) -> web.Response:
    """A file the browser saves as ``name``, not shows."""
    return web.Response(
        body=body,
        content_type=content_type,
        charset=charset,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _file_date(since: datetime | None) -> str:
    """What a download's name says of ``since``: its local date (and time, but for
    midnight), or ``all``; digits and dashes only, safe in any file system."""
    if since is None:
        return "all"
    local = since.astimezone()
    return local.strftime("%Y-%m-%d" if local.time() == time() else "%Y-%m-%d-%H%M")


class _StatusFeed:
    """The station's status as one server-sent event, built once per change (at most four
    times a second) and every KEEPALIVE_S regardless (which keeps proxies from closing an
    idle stream), and shared by every open stream: a hundred pages cost the station and its
    journal what one does. A new stream gets the current frame at once."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build
        self._changed = asyncio.Event()
        self._fresh = asyncio.Event()  # set, and replaced, when a new frame is made
        self._frame: bytes | None = None
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    def changed(self) -> None:
        self._changed.set()

    async def close(self) -> None:
        """Stop making frames; the streams end."""
        self._closed = True
        self._task.cancel()
        self._fresh.set()
        await asyncio.gather(self._task, return_exceptions=True)

    async def frames(self) -> AsyncIterator[bytes]:
        """The current frame, then each new one, until the feed closes."""
        while not self._closed:
            fresh = self._fresh  # taken first: a frame made while ours is written counts
            if self._frame is not None:
                yield self._frame
            await fresh.wait()

    async def _run(self) -> None:
        failing = False
        while not self._closed:
            try:
                status = await asyncio.to_thread(self._build)
            except Exception:  # a bug of ours: the streams keep the last status, not die
                if not failing:
                    log.exception("status page: cannot build the station's status")
                failing = True
            else:
                failing = False
                self._frame = f"event: status\ndata: {json.dumps(status)}\n\n".encode()
                fresh, self._fresh = self._fresh, asyncio.Event()
                fresh.set()
            await asyncio.sleep(EVENT_MIN_S)
            # No change: say it again anyway. Not asyncio.wait_for: in Python 3.11 it loses
            # a cancel that comes as the change does (the feed then never closed).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(KEEPALIVE_S):
                    await self._changed.wait()
            self._changed.clear()


class _Counted(asyncio.Protocol):
    """aiohttp's handler for one connection, counted in its page's ``_open`` (and, until
    it sends a byte, in ``_silent``) from when it is made until it is closed; everything
    else is the handler's."""

    def __init__(self, handler: asyncio.Protocol, page: StatusPage) -> None:
        self._handler = handler
        self._page = page
        self._transport: asyncio.BaseTransport | None = None
        self._counted = True
        self.since = page._loop.time()
        page._open += 1
        page._silent[self] = None

    def close(self) -> None:
        """Make room: uncounted at once, the connection closed."""
        self._uncount()
        if self._transport is not None:
            self._transport.close()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self._page._open -= 1
            self._page._silent.pop(self, None)

    def itself(self) -> _Counted:
        """As a protocol factory: this one, made already (and counted)."""
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._handler.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._uncount()
        self._handler.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._page._silent.pop(self, None)
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()


def _asset(name: str) -> web.Response:
    types = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
    kind = next((t for ext, t in types.items() if name.endswith(ext)), None)
    resource = STATIC / name
    if kind is None or "/" in name or not resource.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=resource.read_bytes(), content_type=kind, charset="utf-8")


def _refused(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


def _password(config: WebConfig) -> str | None:
    return None if config.password_file is None else read_password(config.password_file)
