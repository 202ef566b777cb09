"""secure-lines: an encrypted line client, in Python, on Spoke for WASI 0.3.

    secure-lines HOST PORT        (the password in $SPOKE_PASSWORD)

Connects to HOST:PORT with Spoke's `tcp` interface, runs the spoke client
handshake over that connection with the password, then sends standard input
to the peer a line at a time and prints everything the peer sends back. At
the end of standard input it half-closes (the peer sees the end of the
stream) and keeps printing until the peer ends too. Any failure is one line
on standard error and exit status 1.

Standard input and output are the WASI 0.3 streams (`wasi:cli/stdin`,
`wasi:cli/stdout`), so every byte moves through component-model streams.
"""

import asyncio
import os
import sys

import componentize_py_async_support
import wit_world
from componentize_py_types import Err, Ok, Result
from componentize_py_async_support.futures import FutureReader
from componentize_py_async_support.streams import ByteStreamReader, ByteStreamWriter
from wit_world import exports
from wit_world.imports import spoke, spoke_flow_types, stdin, stdout, tcp

# Both ends bind these into the handshake: the `spoke` command's defaults.
IDENTITIES = spoke.Identities(client="spoke-client", server="spoke-server")

CHUNK = 64 * 1024


class Fail(Exception):
    """A failure to report as one line, then exit with status 1."""


class Run(exports.Run):
    async def run(self) -> None:
        try:
            await main(sys.argv[1:])
        except Fail as e:
            print(f"secure-lines: {e}", file=sys.stderr)
            raise Err(None)


async def main(args: list[str]) -> None:
    if len(args) != 2 or not args[1].isdigit() or int(args[1]) > 65535:
        raise Fail("usage: secure-lines HOST PORT (the password in $SPOKE_PASSWORD)")
    host, port = args[0], int(args[1])
    password = os.environ.get("SPOKE_PASSWORD", "")
    if not password:
        raise Fail("set SPOKE_PASSWORD to the password shared with the peer")

    try:
        connection = await tcp.connect(host, port)
    except Err as e:
        raise Fail(f"connecting to {host}:{port}: {error_message(e.value)}")

    # The session reads the connection's incoming bytes and yields the bytes
    # for the peer, which the connection sends.
    incoming, incoming_end = await connection.receive()
    session, for_peer = spoke.Session.client(
        incoming, relay(incoming_end), IDENTITIES, password.encode(), spoke.default_config()
    )
    with connection, session:
        transport_sent = await connection.send(for_peer)
        try:
            await session.handshake()
        except Err as e:
            message = spoke.handshake_error_message(e.value)
            raise Fail(f"handshake with {host}:{port}: {message}")

        from_peer, from_peer_end = await session.receive()
        to_peer, to_session = wit_world.byte_stream()
        sealed = await session.send(to_session)
        await asyncio.gather(send_lines(to_peer), print_all(from_peer))

        # How each direction ended: the plaintext from the peer, the records
        # for it, and the connection beneath them.
        ends = [("receiving", from_peer_end), ("sending", sealed), ("sending", transport_sent)]
        for what, end in ends:
            result = await end.read()
            if isinstance(result, Err):
                raise Fail(f"{what}: {error_message(result.value)}")


async def send_lines(to_peer: ByteStreamWriter) -> None:
    """Standard input to the peer, one whole line per write; its end ends
    `to_peer`, which half-closes the session."""
    lines, lines_end = stdin.read_via_stream()
    with to_peer, lines:
        pending = b""
        while not lines.writer_dropped:
            pending += await lines.read(CHUNK)
            *whole, pending = pending.split(b"\n")
            for line in whole:
                await to_peer.write_all(line + b"\n")
            if to_peer.reader_dropped:
                return
        if pending:
            await to_peer.write_all(pending)
    await lines_end.read()


async def print_all(from_peer: ByteStreamReader) -> None:
    """Everything the peer sends, to standard output, until it ends."""
    out, to_stdout = wit_world.byte_stream()
    written = stdout.write_via_stream(to_stdout)
    with out, from_peer:
        while not from_peer.writer_dropped:
            data = await from_peer.read(CHUNK)
            if data:
                await out.write_all(data)
    await written.read()


End = FutureReader[Result[None, spoke_flow_types.Error]]
"""How one direction of a connection or session ended."""


def relay(end: End) -> End:
    """A future that resolves as `end` does.

    The connection's `end` comes from the Spoke component, and so would the
    session that reads it: a future written and read inside one component
    instance traps when its payload is not numeric (a component-model rule
    that wasmtime enforces). Relayed here, each hop crosses components. The
    relay is spawned so that `run` ends only after it: it ends once the
    session reads the future or is dropped.
    """
    writer, reader = wit_world.result_unit_spoke_flow_types_error_future(lambda: Ok(None))

    async def forward() -> None:
        await writer.write(await end.read())

    componentize_py_async_support.spawn(forward())
    return reader


def error_message(error: spoke_flow_types.Error) -> str:
    return spoke_flow_types.error_message(error)
