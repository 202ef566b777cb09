//! A man in the middle on loopback: a TCP relay between a Spoke client and a
//! Spoke server that forwards both directions byte for byte and injects one
//! fault at a chosen place of the wire format (PROTOCOL.md §4 and §6).
//!
//! The relay follows each direction's framing as it forwards it: the two
//! fixed-size handshake messages of that direction (34 and 96 bytes from the
//! server, 32 and 64 from the client), then records, each `u16be(LEN)`
//! followed by `LEN - 2` bytes. A [`Spot`] names a byte by direction, unit
//! (handshake message or record number) and place inside the unit; the
//! fault is applied just before that byte is forwarded.
//!
//! Apart from the fault the relay is transparent: an end of stream from one
//! side is passed on as a FIN, a reset as a reset.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a blocked read or write of the relay looks at its state.
const POLL: Duration = Duration::from_millis(50);

/// A direction of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client to server: messages 2 and 4, then the client's records.
    ToServer,
    /// Server to client: messages 1 and 3, then the server's records.
    ToClient,
}

impl Dir {
    /// Both directions, in the order of [`Dir::index`].
    pub const BOTH: [Dir; 2] = [Dir::ToServer, Dir::ToClient];

    /// The sizes of this direction's handshake messages, in order.
    fn handshake(self) -> &'static [usize] {
        match self {
            Dir::ToServer => &[32, 64],
            Dir::ToClient => &[34, 96],
        }
    }

    /// 0 for [`Dir::ToServer`], 1 for [`Dir::ToClient`].
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

/// A place inside a unit (a handshake message or a record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The unit's first byte: a cut here falls on the boundary before it.
    Start,
    /// The byte at this offset from the unit's start (a record's header is
    /// bytes 0 and 1).
    Byte(usize),
    /// The byte halfway through the unit.
    Middle,
    /// The byte this far from the unit's end (1 is its last byte, in a
    /// record the last byte of the tag).
    FromEnd(usize),
}

/// One byte of the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spot {
    /// The direction it travels in.
    pub dir: Dir,
    /// Its unit: the direction's handshake messages first, then its records.
    unit: usize,
    /// Where in the unit.
    pub at: At,
}

impl Spot {
    /// A byte of handshake message `n` (1 to 4, PROTOCOL.md §4).
    pub fn message(n: usize, at: At) -> Spot {
        let (dir, unit) = match n {
            1 => (Dir::ToClient, 0),
            2 => (Dir::ToServer, 0),
            3 => (Dir::ToClient, 1),
            4 => (Dir::ToServer, 1),
            _ => panic!("the handshake has messages 1 to 4, not {n}"),
        };
        Spot { dir, unit, at }
    }

    /// A byte of record `k` (from 0) of direction `dir`.
    pub fn record(dir: Dir, k: usize, at: At) -> Spot {
        Spot {
            dir,
            unit: dir.handshake().len() + k,
            at,
        }
    }

    /// Whether the byte is in a handshake message.
    pub fn in_handshake(&self) -> bool {
        self.unit < self.dir.handshake().len()
    }
}

impl std::fmt::Display for Spot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hs = self.dir.handshake().len();
        if self.unit < hs {
            let n = match (self.dir, self.unit) {
                (Dir::ToClient, 0) => 1,
                (Dir::ToServer, 0) => 2,
                (Dir::ToClient, _) => 3,
                (Dir::ToServer, _) => 4,
            };
            write!(f, "handshake message {n}")?;
        } else {
            let dir = match self.dir {
                Dir::ToServer => "client-to-server",
                Dir::ToClient => "server-to-client",
            };
            write!(f, "{dir} record {}", self.unit - hs)?;
        }
        match self.at {
            At::Start => write!(f, ", first byte"),
            At::Byte(n) => write!(f, ", byte {n}"),
            At::Middle => write!(f, ", middle byte"),
            At::FromEnd(n) => write!(f, ", byte {n} from the end"),
        }
    }
}

/// How the relay cuts the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Shut both connections' write sides (a FIN to each end), then read and
    /// drop whatever the ends still send.
    Fin,
    /// Reset both connections (SO_LINGER 0, then close).
    Rst,
}

/// The one fault of a relayed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// None: a transparent relay.
    None,
    /// XOR the byte at `spot` with `mask` and forward everything else.
    Flip {
        /// Where.
        spot: Spot,
        /// The bits flipped.
        mask: u8,
    },
    /// Forward everything before `spot`, then cut both connections.
    Cut {
        /// The first byte not forwarded.
        spot: Spot,
        /// FIN or reset.
        how: Cut,
    },
}

impl Fault {
    fn spot(&self) -> Option<Spot> {
        match *self {
            Fault::None => None,
            Fault::Flip { spot, .. } | Fault::Cut { spot, .. } => Some(spot),
        }
    }
}

/// What the relay saw of its one connection.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Whether a client connected at all.
    pub connected: bool,
    /// Whether the fault was applied (its byte came by).
    pub triggered: bool,
    /// Per direction ([`Dir::index`]): whether the relay had forwarded the
    /// whole direction, up to its end of stream or its version-2 close
    /// marker, when it cut.
    pub complete_at_cut: [bool; 2],
    /// Per direction: the lengths of the records it followed (until the
    /// fault, or to the end of a clean connection).
    pub records: [Vec<usize>; 2],
}

/// Follows one direction's framing, byte by byte.
struct Tracker {
    dir: Dir,
    /// The current unit (handshake messages first, then records).
    unit: usize,
    /// The offset of the next byte in the unit.
    offset: usize,
    /// The record's length, once its header is in.
    len: Option<usize>,
    /// The first header byte of the current record.
    high: u8,
    /// The lengths of the records completed.
    records: Vec<usize>,
    /// Whether a version-2 close marker (an empty record) has gone by.
    closed: bool,
}

impl Tracker {
    fn new(dir: Dir) -> Tracker {
        Tracker {
            dir,
            unit: 0,
            offset: 0,
            len: None,
            high: 0,
            records: Vec::new(),
            closed: false,
        }
    }

    /// The current unit's length, when it is known.
    fn unit_len(&self) -> Option<usize> {
        self.dir.handshake().get(self.unit).copied().or(self.len)
    }

    /// Whether the next byte is the one at `spot`.
    fn is_at(&self, spot: &Spot) -> bool {
        if spot.dir != self.dir || spot.unit != self.unit {
            return false;
        }
        match spot.at {
            At::Start => self.offset == 0,
            At::Byte(n) => self.offset == n,
            At::Middle => self.unit_len().is_some_and(|l| self.offset == l / 2),
            At::FromEnd(n) => self.unit_len().is_some_and(|l| self.offset + n == l),
        }
    }

    /// Takes the next byte.
    fn advance(&mut self, byte: u8) {
        let handshake = self.unit < self.dir.handshake().len();
        if !handshake {
            match self.offset {
                0 => self.high = byte,
                1 => self.len = Some(usize::from(u16::from_be_bytes([self.high, byte])).max(2)),
                _ => {}
            }
        }
        self.offset += 1;
        if self.unit_len() == Some(self.offset) {
            if !handshake {
                self.records.push(self.offset);
                self.closed |= self.offset == 18;
            }
            self.unit += 1;
            self.offset = 0;
            self.len = None;
        }
    }
}

/// What the two forwarding threads share.
struct Conn {
    client: TcpStream,
    server: TcpStream,
    fault: Fault,
    deadline: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The fault cut the connection: drop whatever comes in.
    cut: bool,
    /// Both connections are being reset: stop at once.
    abort: bool,
    triggered: bool,
    complete: [bool; 2],
    complete_at_cut: [bool; 2],
    records: [Vec<usize>; 2],
}

impl Conn {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ends of direction `dir`: where it comes from and where it goes.
    fn ends(&self, dir: Dir) -> (&TcpStream, &TcpStream) {
        match dir {
            Dir::ToServer => (&self.client, &self.server),
            Dir::ToClient => (&self.server, &self.client),
        }
    }

    /// Cuts both connections, after the fault.
    fn cut(&self, how: Cut) {
        {
            let mut state = self.state();
            state.cut = true;
            state.complete_at_cut = state.complete;
        }
        match how {
            Cut::Fin => {
                let _ = self.client.shutdown(Shutdown::Write);
                let _ = self.server.shutdown(Shutdown::Write);
            }
            Cut::Rst => self.reset(),
        }
    }

    /// Resets both connections: they are closed with SO_LINGER 0 as soon as
    /// the forwarding threads have stopped.
    fn reset(&self) {
        set_linger_zero(&self.client);
        set_linger_zero(&self.server);
        let mut state = self.state();
        state.cut = true;
        state.abort = true;
    }

    /// Forwards direction `dir` until it ends, applying the fault when its
    /// byte comes by.
    fn forward(&self, dir: Dir) {
        let (from, to) = self.ends(dir);
        let mut tracker = Tracker::new(dir);
        let mut tracking = true;
        let mut buf = vec![0u8; 64 * 1024];
        let mut to_failed = false;
        let eof = loop {
            if Instant::now() > self.deadline || self.state().abort {
                break false;
            }
            let n = match (&*from).read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break false,
            };
            if self.state().cut || to_failed {
                continue;
            }
            let mut send = n;
            let mut cut = None;
            if tracking {
                let target = self.fault.spot().filter(|s| s.dir == dir);
                for (j, byte) in buf[..n].iter_mut().enumerate() {
                    if target.is_some_and(|s| tracker.is_at(&s)) {
                        tracking = false;
                        self.state().triggered = true;
                        match self.fault {
                            Fault::Flip { mask, .. } => *byte ^= mask,
                            Fault::Cut { how, .. } => {
                                send = j;
                                cut = Some(how);
                            }
                            Fault::None => {}
                        }
                        break;
                    }
                    tracker.advance(*byte);
                }
            }
            if tracker.closed && tracking {
                // The close marker is on its way: what comes after it (the
                // FIN) adds nothing the reader needs.
                self.state().complete[dir.index()] = true;
            }
            if !self.write_all(to, &buf[..send]) {
                to_failed = true;
            }
            if let Some(how) = cut {
                self.cut(how);
            }
        };
        let mut state = self.state();
        state.records[dir.index()] = std::mem::take(&mut tracker.records);
        if state.cut {
            return;
        }
        if eof {
            state.complete[dir.index()] = true;
            drop(state);
            let _ = to.shutdown(Shutdown::Write);
        } else {
            // A reset (or the deadline): pass it on to the other end.
            drop(state);
            self.reset();
        }
    }

    /// Writes all of `data` to `to`; false if that failed or the connection
    /// was cut meanwhile.
    fn write_all(&self, to: &TcpStream, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            match (&*to).write(data) {
                Ok(0) => return false,
                Ok(n) => data = &data[n..],
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    let state = self.state();
                    if state.cut || state.abort || Instant::now() > self.deadline {
                        return false;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }
}

/// Makes closing `s` reset the connection instead of ending it.
fn set_linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `size_of::<linger>()` bytes from a valid
    // `linger` on the stack, for a descriptor `s` owns.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A relay listening on loopback for one connection.
pub struct Proxy {
    /// Where the client is to connect.
    pub addr: SocketAddr,
    thread: JoinHandle<Outcome>,
}

impl Proxy {
    /// Starts a relay to `server` with `fault`; it gives up (and resets
    /// whatever is open) at `deadline`.
    pub fn start(server: SocketAddr, fault: Fault, deadline: Instant) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the relay");
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || relay(listener, server, fault, deadline));
        Proxy { addr, thread }
    }

    /// Waits until the relay has finished with its connection.
    pub fn finish(self) -> Outcome {
        self.thread.join().expect("the relay thread")
    }
}

fn relay(listener: TcpListener, server: SocketAddr, fault: Fault, deadline: Instant) -> Outcome {
    listener.set_nonblocking(true).unwrap();
    let client = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return Outcome::default(),
        }
    };
    drop(listener);
    let Ok(server) = TcpStream::connect(server) else {
        return Outcome {
            connected: true,
            ..Outcome::default()
        };
    };
    for s in [&client, &server] {
        s.set_nonblocking(false).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(POLL)).unwrap();
        s.set_write_timeout(Some(POLL)).unwrap();
    }
    let conn = Arc::new(Conn {
        client,
        server,
        fault,
        deadline,
        state: Mutex::new(State::default()),
    });
    let other = {
        let conn = conn.clone();
        std::thread::spawn(move || conn.forward(Dir::ToClient))
    };
    conn.forward(Dir::ToServer);
    let _ = other.join();
    let state = conn.state();
    Outcome {
        connected: true,
        triggered: state.triggered,
        complete_at_cut: state.complete_at_cut,
        records: state.records.clone(),
    }
    // Dropping `conn` closes both connections: a reset if they were
    // aborted, else a plain close of connections already ended both ways.
}
