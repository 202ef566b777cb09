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

import wit_world
from componentize_py_types import Err
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

    # The session takes the connection whole: the records go between the
    # socket and the session inside the Spoke component.
    session = spoke.Session.client_over_tcp(
        connection, IDENTITIES, password.encode(), spoke.default_config()
    )
    with session:
        try:
            await session.handshake()
        except Err as e:
            message = spoke.handshake_error_message(e.value)
            raise Fail(f"handshake with {host}:{port}: {message}")

        from_peer, from_peer_end = await session.receive()
        to_peer, to_session = wit_world.byte_stream()
        sealed = await session.send(to_session)
        await asyncio.gather(send_lines(to_peer), print_all(from_peer))

        # How each direction ended: the plaintext from the peer, and the
        # records for it (once the socket has taken them all). A failure of
        # the connection beneath shows in either.
        for what, end in [("receiving", from_peer_end), ("sending", sealed)]:
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


def error_message(error: spoke_flow_types.Error) -> str:
    return spoke_flow_types.error_message(error)
