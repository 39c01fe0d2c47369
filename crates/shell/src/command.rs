//! The shell's command line: one request per line, or a one-line reason it is wrong.

use alloc::format;
use alloc::string::String;

/// What `help` prints.
pub const HELP: &str = "\
commands:
  help                 this list
  vm list              every VM: id, name, state, vCPUs and their CPUs, RAM, exits
  vm show ID           one VM: its config, exits by reason, how it last ended
  vm start ID          run a stopped VM again from its entry point
  vm stop ID           stop a VM at once, whatever its guest does
  vm restart ID        reset a VM and run it again
  vm console ID        put VM ID's console in front
  vm create PATH       create and start a VM from a config on the FAT32 disk
  vm delete ID         remove a stopped VM, giving back its memory and CPUs
  mem                  the hypervisor's free memory
  poweroff             power the machine off
console keys: Ctrl+X then n (next VM's console), p (previous), s (this shell)";

/// Something asked of one VM, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmRequest {
    /// `vm show ID`.
    Show,
    /// `vm start ID`.
    Start,
    /// `vm stop ID`.
    Stop,
    /// `vm restart ID`.
    Restart,
    /// `vm console ID`.
    Console,
    /// `vm delete ID`.
    Delete,
}

/// A request typed at the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `help`.
    Help,
    /// `vm list`.
    List,
    /// `vm <show|start|stop|restart|console|delete> ID`.
    Vm(VmRequest, u64),
    /// `vm create PATH`: a config file on the disk.
    Create(String),
    /// `mem`.
    Memory,
    /// `poweroff`.
    PowerOff,
}

/// The request on `line`, `None` for an empty line, or a one-line reason.
pub fn parse(line: &str) -> Result<Option<Request>, String> {
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else {
        return Ok(None);
    };
    let request = match first {
        "help" | "?" => Request::Help,
        "mem" => Request::Memory,
        "poweroff" => Request::PowerOff,
        "vm" => vm(&mut words)?,
        other => return Err(format!("unknown command `{other}`: try `help`")),
    };
    match words.next() {
        Some(extra) => Err(format!("`{}`: unexpected `{extra}`", line.trim())),
        None => Ok(Some(request)),
    }
}

/// The rest of a `vm` line.
fn vm<'a>(words: &mut impl Iterator<Item = &'a str>) -> Result<Request, String> {
    const SUBCOMMANDS: &str = "list, show, start, stop, restart, console, create, delete";
    let Some(sub) = words.next() else {
        return Err(format!("`vm` needs a subcommand: {SUBCOMMANDS}"));
    };
    let on_vm = match sub {
        "list" => return Ok(Request::List),
        "create" => {
            return words
                .next()
                .map(|path| Request::Create(String::from(path)))
                .ok_or_else(|| String::from("`vm create` needs the path of a config on the disk"));
        }
        "show" => VmRequest::Show,
        "start" => VmRequest::Start,
        "stop" => VmRequest::Stop,
        "restart" => VmRequest::Restart,
        "console" => VmRequest::Console,
        "delete" => VmRequest::Delete,
        other => return Err(format!("unknown `vm {other}`: try {SUBCOMMANDS}")),
    };
    let Some(id) = words.next() else {
        return Err(format!("`vm {sub}` needs a VM id"));
    };
    let id = id
        .parse()
        .map_err(|_| format!("`{id}` is not a VM id (a number, as `vm list` shows)"))?;
    Ok(Request::Vm(on_vm, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_parses() {
        for (line, request) in [
            ("help", Request::Help),
            ("  vm   list ", Request::List),
            ("vm show 2", Request::Vm(VmRequest::Show, 2)),
            ("vm start 3", Request::Vm(VmRequest::Start, 3)),
            ("vm stop 2", Request::Vm(VmRequest::Stop, 2)),
            ("vm restart 10", Request::Vm(VmRequest::Restart, 10)),
            ("vm console 1", Request::Vm(VmRequest::Console, 1)),
            ("vm delete 4", Request::Vm(VmRequest::Delete, 4)),
            (
                "vm create /spare/late.toml",
                Request::Create(String::from("/spare/late.toml")),
            ),
            ("mem", Request::Memory),
            ("poweroff", Request::PowerOff),
        ] {
            assert_eq!(parse(line), Ok(Some(request)), "{line}");
        }
        assert_eq!(parse("   "), Ok(None));
    }

    #[test]
    fn mistakes_are_one_line_each() {
        for (line, reason) in [
            ("reboot", "unknown command `reboot`: try `help`"),
            (
                "vm",
                "`vm` needs a subcommand: list, show, start, stop, restart, console, create, delete",
            ),
            (
                "vm create",
                "`vm create` needs the path of a config on the disk",
            ),
            (
                "vm create a.toml b.toml",
                "`vm create a.toml b.toml`: unexpected `b.toml`",
            ),
            ("vm delete", "`vm delete` needs a VM id"),
            ("vm stop", "`vm stop` needs a VM id"),
            (
                "vm stop two",
                "`two` is not a VM id (a number, as `vm list` shows)",
            ),
            (
                "vm pause 1",
                "unknown `vm pause`: try list, show, start, stop, restart, console, create, delete",
            ),
            ("vm list all", "`vm list all`: unexpected `all`"),
        ] {
            let error = parse(line).unwrap_err();
            assert_eq!(error, reason, "{line}");
            assert!(!error.contains('\n'));
        }
    }
}
