//! A VM's recent console output, kept in a bounded ring so that it can be shown when
//! the console moves to the VM.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// The last `capacity` bytes a VM wrote.
pub struct History {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl History {
    /// An empty history of at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            bytes: VecDeque::new(),
            capacity,
        }
    }

    /// Keeps `bytes`, dropping the oldest beyond the capacity.
    pub fn push(&mut self, bytes: &[u8]) {
        let skip = bytes.len().saturating_sub(self.capacity);
        let bytes = bytes.get(skip..).unwrap_or(&[]);
        let overflow = (self.bytes.len() + bytes.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow.min(self.bytes.len()));
        self.bytes.extend(bytes);
    }

    /// The last `at_most` bytes kept, from the start of a line when one starts in
    /// them (a cut line is not shown half).
    pub fn recent(&self, at_most: usize) -> Vec<u8> {
        let start = self.bytes.len().saturating_sub(at_most);
        let tail: Vec<u8> = self.bytes.range(start..).copied().collect();
        if start == 0 {
            return tail;
        }
        match tail.iter().position(|&byte| byte == b'\n') {
            Some(end) => tail.get(end + 1..).unwrap_or(&[]).to_vec(),
            None => tail,
        }
    }

    /// How many bytes are kept.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_within_its_capacity() {
        let mut history = History::new(8);
        history.push(b"abc");
        history.push(b"defgh");
        assert_eq!(history.recent(100), b"abcdefgh");
        history.push(b"ij");
        assert_eq!(history.len(), 8);
        assert_eq!(history.recent(100), b"cdefghij");
        history.push(b"0123456789");
        assert_eq!(history.recent(100), b"23456789");
    }

    #[test]
    fn recent_output_starts_at_a_line() {
        let mut history = History::new(64);
        assert!(history.is_empty());
        history.push(b"first line\nsecond line\nthird");
        assert_eq!(history.recent(15), b"third");
        assert_eq!(history.recent(18), b"second line\nthird");
        assert_eq!(history.recent(1000), b"first line\nsecond line\nthird");
        assert_eq!(
            history.recent(3),
            b"ird",
            "no line starts: the tail as it is"
        );
    }
}
