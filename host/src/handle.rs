//! The handles an [`Instance`] gives out for the guest resources it owns:
//! [`Flow`] and [`Listener`].
//!
//! Owns which instance a handle belongs to, and handing the resource of a
//! handle dropped without being closed back to its instance (the
//! [`Graveyard`]), which releases it at its next call. Never calls into the
//! guest: only the instance may.

use std::sync::{Arc, Mutex, Weak};

use wasmtime::component::ResourceAny;

use crate::error::FlowError;
#[cfg(doc)]
use crate::instance::Instance;

/// A flow (a guest `flow` resource) belonging to one [`Instance`].
///
/// Close it with [`Instance::close`]; a flow that is simply dropped is
/// released at its instance's next call.
pub struct Flow(pub(crate) Handle);

/// A listening socket belonging to one [`Instance`]; see [`Instance::listen`].
pub struct Listener(pub(crate) Handle);

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flow(instance {})", self.0.instance)
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listener(instance {})", self.0.instance)
    }
}

/// The resources of handles dropped without `close`, waiting for their
/// instance's next call to release them.
#[derive(Default)]
pub(crate) struct Graveyard(Arc<Mutex<Vec<ResourceAny>>>);

impl Graveyard {
    /// Everything waiting to be released, leaving nothing.
    pub(crate) fn take_all(&self) -> Vec<ResourceAny> {
        self.0
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}

/// One guest resource, the instance it belongs to, and where it goes if
/// dropped (nowhere once the instance is gone: its store freed it).
pub(crate) struct Handle {
    resource: Option<ResourceAny>,
    instance: u64,
    graveyard: Weak<Mutex<Vec<ResourceAny>>>,
}

impl Handle {
    /// A handle on `resource` of the instance numbered `instance`, whose
    /// graveyard is `graveyard`.
    pub(crate) fn new(resource: ResourceAny, instance: u64, graveyard: &Graveyard) -> Self {
        Self {
            resource: Some(resource),
            instance,
            graveyard: Arc::downgrade(&graveyard.0),
        }
    }

    /// The resource, if this handle belongs to the instance numbered
    /// `instance`.
    pub(crate) fn resource_in(&self, instance: u64) -> Result<ResourceAny, FlowError> {
        match self.resource {
            Some(r) if self.instance == instance => Ok(r),
            _ => Err(FlowError::InvalidState(
                "this handle belongs to another Spoke instance".into(),
            )),
        }
    }

    /// The resource, which the caller now releases.
    pub(crate) fn take(mut self) -> Option<ResourceAny> {
        self.resource.take()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let (Some(resource), Some(graveyard)) = (self.resource.take(), self.graveyard.upgrade())
            && let Ok(mut graves) = graveyard.lock()
        {
            graves.push(resource);
        }
    }
}
