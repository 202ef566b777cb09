//! The spoke layer over any transport given as streams, or over a TCP
//! connection of this component: the `session` resource.
//!
//! Owns: the transport's two streams and the handshake machine until the
//! handshake ends, then hands each direction to its own task: the
//! receiving task feeds the core's opener from `incoming` and writes the
//! plaintext to the caller; the sending task seals the caller's bytes and
//! writes the records for the peer. The two share nothing, so either may
//! end first. Never keeps the password (the machine wipes its copy) and
//! never decides anything cryptographic itself.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::mem;
use std::pin::pin;
use std::task::Poll;

use zeroize::Zeroizing;

use super::bindings::exports::spoke::flow::spoke::{
    Config as WitConfig, Established, GuestSession, HandshakeError as WitHandshakeError,
    Identities as WitIdentities, Session as SessionHandle,
};
use super::bindings::exports::spoke::flow::tcp::Connection as ConnectionHandle;
use super::bindings::exports::spoke::flow::types::Error;
use super::bindings::wasi::clocks::monotonic_clock;
use super::bindings::{wit_future, wit_stream};
use super::contract::{config, handshake_error, to_wit};
use super::directions;
use super::tcp::{self, Ending, cut_off, failed};
use super::transport::{self, Incoming, Outgoing};
use super::{CHUNK, errors};
use spoke_protocol::{
    ClientHandshake, Handshake, Identities, Opener, Role, Sealer, ServerHandshake, Step,
};
use wit_bindgen::StreamReader;

/// The Rust value behind a `session` handle.
pub struct Session {
    stage: RefCell<Stage>,
}

enum Stage {
    /// `client` or `server` was called; `handshake` was not.
    Ready {
        machine: Result<Box<dyn Handshake>, WitHandshakeError>,
        incoming: Incoming,
        outgoing: Outgoing,
    },
    /// A `handshake` call is driving the machine.
    Running,
    /// The handshake succeeded; each direction is there until taken.
    Established {
        established: Established,
        receiving: Option<(Opener, Incoming)>,
        sending: Option<(Sealer, Outgoing)>,
    },
    /// The handshake failed; the transport's streams are gone.
    Failed(WitHandshakeError),
}

impl Session {
    /// A session for `role` over a transport given as streams, and the
    /// stream for the peer.
    fn over_streams(
        role: Role,
        incoming: StreamReader<u8>,
        end: Option<Ending>,
        ids: WitIdentities,
        password: Vec<u8>,
        cfg: WitConfig,
    ) -> (SessionHandle, StreamReader<u8>) {
        let (incoming, outgoing, for_peer) = transport::given(incoming, end);
        let machine = machine(role, ids, password, &cfg);
        (Self::start(machine, incoming, outgoing), for_peer)
    }

    /// A session for `role` over a TCP connection of this component.
    fn over_tcp(
        role: Role,
        connection: ConnectionHandle,
        ids: WitIdentities,
        password: Vec<u8>,
        cfg: WitConfig,
    ) -> SessionHandle {
        let machine = machine(role, ids, password, &cfg);
        match connection.into_inner::<tcp::Connection>().into_socket() {
            Ok(socket) => {
                let (incoming, outgoing) = transport::over_tcp(socket);
                Self::start(machine, incoming, outgoing)
            }
            Err(e) => {
                let (incoming, outgoing) = transport::ended();
                Self::start(Err(WitHandshakeError::Flow(e)), incoming, outgoing)
            }
        }
    }

    fn start(
        machine: Result<Box<dyn Handshake>, WitHandshakeError>,
        incoming: Incoming,
        outgoing: Outgoing,
    ) -> SessionHandle {
        SessionHandle::new(Session {
            stage: RefCell::new(Stage::Ready {
                machine,
                incoming,
                outgoing,
            }),
        })
    }
}

/// The handshake machine for `role` (which wipes its copy of the password),
/// or why the configuration is not usable.
fn machine(
    role: Role,
    ids: WitIdentities,
    password: Vec<u8>,
    cfg: &WitConfig,
) -> Result<Box<dyn Handshake>, WitHandshakeError> {
    let password = Zeroizing::new(password);
    config(cfg).and_then(|cfg| {
        let ids = Identities {
            client: ids.client.into_bytes(),
            server: ids.server.into_bytes(),
        };
        let machine: Box<dyn Handshake> = match role {
            Role::Client => {
                Box::new(ClientHandshake::new(&cfg, ids, &password).map_err(handshake_error)?)
            }
            Role::Server => {
                Box::new(ServerHandshake::new(&cfg, ids, &password).map_err(handshake_error)?)
            }
        };
        Ok(machine)
    })
}

impl GuestSession for Session {
    fn client(
        incoming: StreamReader<u8>,
        incoming_end: Option<Ending>,
        ids: WitIdentities,
        password: Vec<u8>,
        cfg: WitConfig,
    ) -> (SessionHandle, StreamReader<u8>) {
        Session::over_streams(Role::Client, incoming, incoming_end, ids, password, cfg)
    }

    fn server(
        incoming: StreamReader<u8>,
        incoming_end: Option<Ending>,
        ids: WitIdentities,
        password: Vec<u8>,
        cfg: WitConfig,
    ) -> (SessionHandle, StreamReader<u8>) {
        Session::over_streams(Role::Server, incoming, incoming_end, ids, password, cfg)
    }

    fn client_over_tcp(
        transport: ConnectionHandle,
        ids: WitIdentities,
        password: Vec<u8>,
        cfg: WitConfig,
    ) -> SessionHandle {
        Session::over_tcp(Role::Client, transport, ids, password, cfg)
    }

    fn server_over_tcp(
        transport: ConnectionHandle,
        ids: WitIdentities,
        password: Vec<u8>,
        cfg: WitConfig,
    ) -> SessionHandle {
        Session::over_tcp(Role::Server, transport, ids, password, cfg)
    }

    async fn handshake(&self) -> Result<Established, WitHandshakeError> {
        self.run_handshake(None).await
    }

    async fn handshake_within(&self, timeout: u64) -> Result<Established, WitHandshakeError> {
        self.run_handshake(Some(timeout)).await
    }

    async fn receive(&self) -> (StreamReader<u8>, Ending) {
        self.take_receiving().await
    }

    async fn send(&self, data: StreamReader<u8>) -> Ending {
        self.take_sending(data).await
    }
}

impl Session {
    /// `handshake`, within `timeout` nanoseconds if there is one.
    async fn run_handshake(&self, timeout: Option<u64>) -> Result<Established, WitHandshakeError> {
        let (machine, mut incoming, mut outgoing) = {
            let mut stage = self.stage.borrow_mut();
            match mem::replace(&mut *stage, Stage::Running) {
                Stage::Ready {
                    machine,
                    incoming,
                    outgoing,
                } => (machine, incoming, outgoing),
                Stage::Running => {
                    return Err(WitHandshakeError::InvalidConfig(
                        "handshake was called while another call to it is still running".into(),
                    ));
                }
                ended => {
                    let outcome = match &ended {
                        Stage::Established { established, .. } => Ok(*established),
                        Stage::Failed(e) => Err(e.clone()),
                        Stage::Ready { .. } | Stage::Running => Err(
                            WitHandshakeError::InvalidConfig("the handshake has not run".into()),
                        ),
                    };
                    *stage = ended;
                    return outcome;
                }
            }
        };
        let outcome = match (machine, timeout) {
            (Ok(machine), None) => drive(machine, &mut incoming, &mut outgoing).await,
            (Ok(machine), Some(ns)) => {
                within(ns, drive(machine, &mut incoming, &mut outgoing)).await
            }
            (Err(e), _) => Err(e),
        };
        match outcome {
            Ok(session) => {
                let established = established(&session);
                let (sealer, opener) = session.into_parts();
                *self.stage.borrow_mut() = Stage::Established {
                    established,
                    receiving: Some((opener, incoming)),
                    sending: Some((sealer, outgoing)),
                };
                Ok(established)
            }
            Err(e) => {
                // Both directions of the transport end here.
                drop((incoming, outgoing));
                *self.stage.borrow_mut() = Stage::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// `receive`: the plaintext direction from the peer, once.
    async fn take_receiving(&self) -> (StreamReader<u8>, Ending) {
        let (mut plaintext, reader) = wit_stream::new::<u8>();
        let taken = match &mut *self.stage.borrow_mut() {
            Stage::Established { receiving, .. } => receiving.take(),
            _ => None,
        };
        let Some((opener, incoming)) = taken else {
            drop(plaintext);
            return (reader, failed(self.unavailable("receive")));
        };
        let (ending, ended) = wit_future::new::<Result<(), Error>>(cut_off);
        wit_bindgen::spawn_local(async move {
            let outcome = directions::receive(opener, incoming, &mut plaintext).await;
            drop(plaintext);
            let _ = ending.write(outcome).await;
        });
        (reader, ended)
    }

    /// `send`: the plaintext direction for the peer, once.
    async fn take_sending(&self, data: StreamReader<u8>) -> Ending {
        let taken = match &mut *self.stage.borrow_mut() {
            Stage::Established { sending, .. } => sending.take(),
            _ => None,
        };
        let Some((sealer, outgoing)) = taken else {
            return failed(self.unavailable("send"));
        };
        let (ending, ended) = wit_future::new::<Result<(), Error>>(cut_off);
        wit_bindgen::spawn_local(async move {
            let outcome = directions::send(sealer, outgoing, data).await;
            let _ = ending.write(outcome).await;
        });
        ended
    }
}

impl Session {
    /// Why direction `what` cannot be taken now.
    fn unavailable(&self, what: &str) -> Error {
        errors::invalid_state(&match &*self.stage.borrow() {
            Stage::Established { .. } => format!("{what} was already called"),
            Stage::Failed(_) => format!("{what} after a failed handshake"),
            Stage::Ready { .. } | Stage::Running => {
                format!("{what} before the handshake has succeeded")
            }
        })
    }
}

/// What a session agreed on, for `handshake`'s answer.
fn established(session: &spoke_protocol::Session) -> Established {
    let (server_to_client, client_to_server) = session.ciphers();
    Established {
        version: session.version().wire(),
        server_to_client: to_wit(server_to_client),
        client_to_server: to_wit(client_to_server),
    }
}

/// Feeds the machine from `incoming` and writes what it asks to
/// `outgoing`, until it is done.
async fn drive(
    mut machine: Box<dyn Handshake>,
    incoming: &mut Incoming,
    outgoing: &mut Outgoing,
) -> Result<Box<spoke_protocol::Session>, WitHandshakeError> {
    let mut buf = Vec::with_capacity(CHUNK);
    loop {
        match machine.step() {
            Step::Send(bytes) => {
                if !outgoing.write_all(bytes).await.is_empty() {
                    return Err(WitHandshakeError::Closed);
                }
            }
            Step::NeedInput => match incoming.read(mem::take(&mut buf)).await {
                Ok(Some(bytes)) => {
                    machine.feed(&bytes);
                    buf = bytes;
                    buf.clear();
                }
                Ok(None) => machine.feed_eof(),
                Err(e) => return Err(WitHandshakeError::Flow(e)),
            },
            Step::Done(session) => return Ok(session),
            Step::Failed(e) => return Err(handshake_error(e)),
        }
    }
}

/// `work`, unless `timeout` nanoseconds pass first: then `work` is dropped
/// (its pending reads and writes cancelled) and the handshake fails with
/// `flow(timed-out)`.
async fn within<T>(
    timeout: u64,
    work: impl Future<Output = Result<T, WitHandshakeError>>,
) -> Result<T, WitHandshakeError> {
    let mut work = pin!(work);
    let mut timer = pin!(monotonic_clock::wait_for(timeout));
    poll_fn(|cx| {
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(WitHandshakeError::Flow(Error::TimedOut))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
