//! The console's prefix key: Ctrl+X, then a key that moves the console between the
//! shell and the VMs (`n` the next VM, `p` the previous one, `s` the shell); Ctrl+X
//! twice sends one Ctrl+X on. Every other byte passes through.

/// The prefix key, Ctrl+X.
pub const PREFIX_KEY: u8 = 0x18;

/// Where the console moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// The next VM with a console (after the shell: the first).
    Next,
    /// The previous VM with a console.
    Previous,
    /// The hypervisor shell.
    Shell,
}

/// What one typed byte is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A byte for whoever has the console.
    Byte(u8),
    /// A move of the console.
    Switch(Switch),
    /// Nothing yet (the prefix key), or a key the prefix does not know.
    Nothing,
}

/// Tells prefix sequences from typed bytes.
#[derive(Default)]
pub struct ConsoleKeys {
    prefixed: bool,
}

impl ConsoleKeys {
    /// No prefix key typed yet.
    pub const fn new() -> Self {
        Self { prefixed: false }
    }

    /// Takes one typed byte.
    pub fn feed(&mut self, byte: u8) -> Key {
        if !core::mem::take(&mut self.prefixed) {
            if byte == PREFIX_KEY {
                self.prefixed = true;
                return Key::Nothing;
            }
            return Key::Byte(byte);
        }
        match byte {
            b'n' | b'N' => Key::Switch(Switch::Next),
            b'p' | b'P' => Key::Switch(Switch::Previous),
            b's' | b'S' => Key::Switch(Switch::Shell),
            PREFIX_KEY => Key::Byte(PREFIX_KEY),
            _ => Key::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_key_then_a_letter_moves_the_console() {
        let mut keys = ConsoleKeys::default();
        let seen: alloc::vec::Vec<Key> = b"a\x18nb\x18p\x18S\x18\x18\x18zq"
            .iter()
            .map(|&byte| keys.feed(byte))
            .collect();
        assert_eq!(
            seen,
            [
                Key::Byte(b'a'),
                Key::Nothing,
                Key::Switch(Switch::Next),
                Key::Byte(b'b'),
                Key::Nothing,
                Key::Switch(Switch::Previous),
                Key::Nothing,
                Key::Switch(Switch::Shell),
                Key::Nothing,
                Key::Byte(PREFIX_KEY),
                Key::Nothing,
                Key::Nothing,
                Key::Byte(b'q'),
            ]
        );
    }
}
