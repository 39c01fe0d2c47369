//! Guest console output on the hypervisor console: each VM's lines carry its name as
//! a prefix, and whole lines are written at once so VMs never interleave mid-line.

use alloc::string::String;
use alloc::vec::Vec;
use tessera_vdev::CharSink;

/// Longest line kept before it is flushed without a newline.
const MAX_LINE: usize = 256;

/// A VM's console output, line-buffered.
pub struct VmConsole {
    prefix: String,
    line: Vec<u8>,
}

impl VmConsole {
    /// Output of the VM called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            prefix: alloc::format!("[{name}] "),
            line: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let mut out = Vec::with_capacity(self.prefix.len() + self.line.len() + 1);
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(&self.line);
        if out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
        tessera_os::console::write_bytes(&out);
        self.line.clear();
    }
}

impl CharSink for VmConsole {
    fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            match byte {
                b'\r' => {}
                b'\n' => {
                    self.line.push(b'\n');
                    self.flush();
                }
                _ => {
                    self.line.push(byte);
                    if self.line.len() >= MAX_LINE {
                        self.flush();
                    }
                }
            }
        }
    }
}
