//! The transport beneath a session: its bytes from the peer and how they
//! ended ([`Incoming`]), and its bytes for the peer and how they were
//! handed on ([`Outgoing`]); given as streams by the caller, or taken from
//! a TCP connection of this component ([`over_tcp`]).
//!
//! Owns: reading the end of the incoming bytes and waiting for the socket
//! to take the last outgoing ones. A TCP connection's directions are the
//! socket's own streams and futures (the host writes the futures), so this
//! component never reads a future it writes itself: the component model
//! traps on that for any payload that is not a number.

use std::rc::Rc;

use super::bindings::exports::spoke::flow::types::Error;
use super::bindings::wasi::sockets::types::{ErrorCode, TcpSocket};
use super::bindings::wit_stream;
use super::errors;
use super::tcp::Ending;
use wit_bindgen::{FutureReader, StreamReader, StreamResult, StreamWriter};

/// How the bytes from the peer ended, as the transport says it.
enum End {
    /// The contract's future, from whoever gave the transport.
    Given(Ending),
    /// A TCP socket's own future.
    Socket(FutureReader<Result<(), ErrorCode>>),
}

/// The bytes from the peer: the stream, and what says how it ended (if the
/// transport has it).
pub struct Incoming {
    bytes: StreamReader<u8>,
    end: Option<End>,
    /// The socket beneath, kept open while a direction needs it.
    _socket: Option<Rc<TcpSocket>>,
}

/// The bytes for the peer, and (for a socket) the future that says whether
/// the socket took them all.
pub struct Outgoing {
    bytes: StreamWriter<u8>,
    sent: Option<FutureReader<Result<(), ErrorCode>>>,
    _socket: Option<Rc<TcpSocket>>,
}

/// A transport given as streams: `bytes` from the peer (ended as `end`
/// says), and a new stream for the peer, returned to hand on.
pub fn given(
    bytes: StreamReader<u8>,
    end: Option<Ending>,
) -> (Incoming, Outgoing, StreamReader<u8>) {
    let (writer, for_peer) = wit_stream::new::<u8>();
    let incoming = Incoming {
        bytes,
        end: end.map(End::Given),
        _socket: None,
    };
    let outgoing = Outgoing {
        bytes: writer,
        sent: None,
        _socket: None,
    };
    (incoming, outgoing, for_peer)
}

/// A TCP socket's directions as a transport.
pub fn over_tcp(socket: TcpSocket) -> (Incoming, Outgoing) {
    let (bytes, end) = socket.receive();
    let (writer, for_peer) = wit_stream::new::<u8>();
    let sent = socket.send(for_peer);
    let socket = Rc::new(socket);
    let incoming = Incoming {
        bytes,
        end: Some(End::Socket(end)),
        _socket: Some(socket.clone()),
    };
    let outgoing = Outgoing {
        bytes: writer,
        sent: Some(sent),
        _socket: Some(socket),
    };
    (incoming, outgoing)
}

/// A transport that is already over: no bytes from the peer, and no one to
/// take the bytes for it.
pub fn ended() -> (Incoming, Outgoing) {
    let (writer, reader) = wit_stream::new::<u8>();
    drop(writer);
    let (incoming, outgoing, for_peer) = given(reader, None);
    drop(for_peer);
    (incoming, outgoing)
}

impl Incoming {
    /// Reads into `buf`'s spare room: `Some` with what arrived, `None` at
    /// the transport's clean end, or the error that ended it.
    pub async fn read(&mut self, mut buf: Vec<u8>) -> Result<Option<Vec<u8>>, Error> {
        loop {
            let (result, back) = self.bytes.read(buf).await;
            buf = back;
            match result {
                StreamResult::Complete(n) if n > 0 => return Ok(Some(buf)),
                // Nothing moved: ask again.
                StreamResult::Complete(_) | StreamResult::Cancelled => {}
                StreamResult::Dropped => {
                    return match self.end.take() {
                        Some(End::Given(end)) => end.await.map(|()| None),
                        Some(End::Socket(end)) => end
                            .await
                            .map(|()| None)
                            .map_err(|c| errors::from_code(c, "receiving")),
                        None => Ok(None),
                    };
                }
            }
        }
    }
}

impl Outgoing {
    /// Writes all of `bytes` for the peer; returns what the transport did
    /// not take (nothing unless it stopped taking bytes), in the buffer.
    pub async fn write_all(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        self.bytes.write_all(bytes).await
    }

    /// Why the transport stopped taking bytes: the socket's error, if it
    /// has one.
    pub async fn stopped(self) -> Error {
        let Self { bytes, sent, .. } = self;
        drop(bytes);
        match sent {
            Some(sent) => match sent.await {
                Err(c) => errors::from_code(c, "sending"),
                Ok(()) => stopped(),
            },
            None => stopped(),
        }
    }

    /// Ends the bytes for the peer, and waits until the socket beneath (if
    /// any) has taken them all, or says why it could not.
    pub async fn finish(self) -> Result<(), Error> {
        let Self { bytes, sent, .. } = self;
        drop(bytes);
        match sent {
            Some(sent) => sent.await.map_err(|c| errors::from_code(c, "sending")),
            None => Ok(()),
        }
    }
}

/// The error of a transport that stopped taking the bytes for the peer
/// without saying why.
fn stopped() -> Error {
    errors::other("the transport stopped taking the bytes for the peer".into())
}
