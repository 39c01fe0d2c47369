//! Line editing of the bytes typed at the shell: printable characters are kept and
//! echoed, backspace takes the last one back, Ctrl+C or Ctrl+U drops the line, and
//! Enter (CR, LF or CR LF) hands the line over.

use alloc::string::String;
use alloc::vec::Vec;

/// Longest line kept; further characters are not taken.
const MAX_LINE: usize = 256;

/// The line being typed.
#[derive(Default)]
pub struct LineEditor {
    line: String,
    /// The last byte was a CR: an LF right after it ends nothing.
    after_cr: bool,
}

impl LineEditor {
    /// Nothing typed yet.
    pub const fn new() -> Self {
        Self {
            line: String::new(),
            after_cr: false,
        }
    }

    /// Takes one typed `byte`; appends what the console should show to `echo`, and
    /// returns the line when `byte` ends it.
    pub fn feed(&mut self, byte: u8, echo: &mut Vec<u8>) -> Option<String> {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                echo.extend_from_slice(b"\r\n");
                Some(core::mem::take(&mut self.line))
            }
            0x08 | 0x7f => {
                if self.line.pop().is_some() {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                None
            }
            0x03 => {
                self.line.clear();
                echo.extend_from_slice(b"^C\r\n");
                Some(String::new())
            }
            0x15 => {
                for _ in 0..self.line.len() {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                self.line.clear();
                None
            }
            0x20..=0x7e if self.line.len() < MAX_LINE => {
                self.line.push(char::from(byte));
                echo.push(byte);
                None
            }
            _ => None,
        }
    }

    /// What has been typed of the current line.
    pub fn pending(&self) -> &str {
        &self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes`; the lines they end and the echo.
    fn type_in(editor: &mut LineEditor, bytes: &[u8]) -> (Vec<String>, Vec<u8>) {
        let mut echo = Vec::new();
        let lines = bytes
            .iter()
            .filter_map(|&byte| editor.feed(byte, &mut echo))
            .collect();
        (lines, echo)
    }

    #[test]
    fn lines_end_with_cr_lf_or_both() {
        let mut editor = LineEditor::default();
        let (lines, echo) = type_in(&mut editor, b"vm list\r\nmem\nhelp\r");
        assert_eq!(lines, ["vm list", "mem", "help"]);
        assert_eq!(echo, b"vm list\r\nmem\r\nhelp\r\n");
    }

    #[test]
    fn backspace_ctrl_c_and_ctrl_u_edit() {
        let mut editor = LineEditor::default();
        let (lines, echo) = type_in(&mut editor, b"vm lsx\x7f\x08ist\r");
        assert_eq!(lines, ["vm list"]);
        assert_eq!(echo, b"vm lsx\x08 \x08\x08 \x08ist\r\n");
        let (lines, _) = type_in(&mut editor, b"poweroff\x03");
        assert_eq!(lines, [""], "Ctrl+C drops what was typed");
        let (lines, _) = type_in(&mut editor, b"junk\x15mem\r");
        assert_eq!(lines, ["mem"]);
        let (_, echo) = type_in(&mut editor, b"\x7f");
        assert!(echo.is_empty(), "nothing to take back");
    }

    #[test]
    fn control_bytes_and_overlong_lines_are_not_taken() {
        let mut editor = LineEditor::default();
        let mut long = Vec::from(&b"\x1b\x01"[..]);
        long.extend(core::iter::repeat_n(b'a', MAX_LINE + 10));
        let (lines, echo) = type_in(&mut editor, &long);
        assert!(lines.is_empty());
        assert_eq!(echo.len(), MAX_LINE);
        assert_eq!(editor.pending().len(), MAX_LINE);
    }
}
