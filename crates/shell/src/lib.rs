//! The hypervisor shell (`tessera>` on the hypervisor's console), without the
//! hardware: the command line and its requests ([`parse`]), line editing of typed
//! bytes ([`LineEditor`]), the console's prefix key that moves the console between
//! the shell and the VMs ([`ConsoleKeys`]), and the bounded output history each VM
//! keeps ([`History`]). The hypervisor carries the requests out.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

extern crate alloc;

mod command;
mod history;
mod keys;
mod line;

pub use command::{HELP, Request, VmRequest, parse};
pub use history::History;
pub use keys::{ConsoleKeys, Key, PREFIX_KEY, Switch};
pub use line::LineEditor;

/// The shell's prompt.
pub const PROMPT: &str = "tessera> ";
