//! The `flow` resource: one type for every kind of flow (plain TCP or a
//! layer such as the spoke encryption over another flow), holding it as a
//! [`Conn`] that every operation reaches through the [`Layer`] trait.
//!
//! Owns: the interior mutability of a flow (a `RefCell`, borrowed with
//! `try_borrow_mut` so that misuse, such as the same flow passed twice to a
//! combinator, is an error rather than a panic). Never does protocol work.

use std::cell::{RefCell, RefMut};

use super::bindings::exports::spoke::flow::types::Error;
use super::errors;
use super::layer::{Conn, Layer};

/// The Rust value behind a `flow` resource handle.
pub struct FlowResource {
    conn: RefCell<Option<Conn>>,
}

impl FlowResource {
    /// Wraps a flow of any kind.
    pub fn new(layer: impl Layer + 'static) -> Self {
        FlowResource {
            conn: RefCell::new(Some(Box::new(layer))),
        }
    }

    /// Borrows the connection for one operation; an error if it is already
    /// borrowed (re-entrant use) or was moved into a layer.
    pub fn borrow(&self) -> Result<RefMut<'_, Conn>, Error> {
        let guard = self
            .conn
            .try_borrow_mut()
            .map_err(|_| errors::busy_flow())?;
        RefMut::filter_map(guard, Option::as_mut).map_err(|_| errors::closed_flow())
    }

    /// Takes the connection out, for a layer that will own it.
    pub fn take(&self) -> Result<Conn, Error> {
        let mut guard = self
            .conn
            .try_borrow_mut()
            .map_err(|_| errors::busy_flow())?;
        guard.take().ok_or_else(errors::closed_flow)
    }
}
