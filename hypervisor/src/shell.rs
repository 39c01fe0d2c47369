//! The hypervisor shell: carries out the requests typed at `tessera>` (parsed by
//! `tessera_shell`) on the VMs as they are now ([`registry`]), answering every
//! mistake with one line.

use crate::console::{self, Front};
use crate::irq;
use crate::registry;
use crate::scheduler;
use crate::vmm::{self, VmEntry, Vms};
use alloc::string::String;
use alloc::vec::Vec;
use tessera_os::{frames, hal, println};
use tessera_shell::{HELP, Request, VmRequest};
use tessera_vm::{Command, VmStatus};

/// Runs one line typed at the shell, then shows the prompt again.
pub fn run_line(line: &str) {
    console::end_guest_line();
    match tessera_shell::parse(line) {
        Ok(None) => {}
        Ok(Some(request)) => execute(&registry::snapshot(), request),
        Err(reason) => println!("tessera: {reason}"),
    }
    if console::front() == Front::Shell {
        console::prompt();
    }
}

/// Carries out `request`.
fn execute(vms: &Vms, request: Request) {
    match request {
        Request::Help => HELP.lines().for_each(|line| println!("{line}")),
        Request::List => list(vms),
        Request::Memory => {
            let free = frames::free_bytes();
            println!(
                "tessera: free memory {} KiB ({} frames of 4 KiB)",
                free >> 10,
                free / frames::FRAME_SIZE
            );
        }
        Request::PowerOff => {
            println!("tessera: powering off (shell)");
            for entry in &vms.entries {
                // Refused (and nothing done) for a VM that does not run.
                if entry.vm.command(Command::Stop).is_ok() {
                    irq::kick_all(entry);
                }
                entry.report_end();
            }
            scheduler::report_verdict(vms);
            hal::power_off();
        }
        Request::Create(path) => create(&path),
        Request::Vm(what, id) => match vms.entries.iter().find(|entry| entry.vm.id == id) {
            Some(entry) => on_vm(entry, what),
            None => println!("tessera: no VM {id} (`vm list` shows the VMs)"),
        },
    }
}

/// `vm create PATH`: a VM from a config on the disk, running once created.
fn create(path: &str) {
    match registry::add(|live| vmm::create_from_disk(path, live)) {
        Ok(entry) => println!(
            "tessera: VM {} ({}) started (vm create {path})",
            entry.vm.id, entry.vm.name
        ),
        Err(reason) => println!("tessera: vm create {path}: not created: {reason}"),
    }
}

/// `vm list`: a line per VM.
fn list(vms: &Vms) {
    println!(
        "  {:>3}  {:<16} {:<10} {:>5}  {:<10} {:>8}  {:>10}",
        "ID", "NAME", "STATE", "VCPUS", "CPUS", "RAM", "EXITS"
    );
    for entry in &vms.entries {
        let vm = &entry.vm;
        let cpus: Vec<String> = vm
            .cpus
            .iter()
            .map(|slot| alloc::format!("{}", slot.pcpu))
            .collect();
        let ram: u64 = vm.memory.regions().iter().map(|r| r.guest.size).sum();
        println!(
            "  {:>3}  {:<16} {:<10} {:>5}  {:<10} {:>4} MiB  {:>10}",
            vm.id,
            vm.name,
            vm.status().name(),
            vm.cpus.len(),
            cpus.join(","),
            ram >> 20,
            vm.exits.total()
        );
    }
}

/// `vm show|start|stop|restart|delete|console ID`. A deleted VM leaves the registry;
/// its resources go back once no CPU holds it (its entry says so).
fn on_vm(entry: &VmEntry, what: VmRequest) {
    let vm = &entry.vm;
    let (id, name) = (vm.id, &vm.name);
    let command = match what {
        VmRequest::Show => return entry.show(),
        VmRequest::Console => {
            if !console::show_vm(id) {
                println!("tessera: VM {id} ({name}) has no console");
            }
            return;
        }
        VmRequest::Delete => Command::Delete,
        VmRequest::Start => Command::Start,
        VmRequest::Stop => Command::Stop,
        VmRequest::Restart => Command::Restart,
    };
    let verb = command.name();
    // Refused before `prepare_start`, which must not run for a refused command.
    if let Err(refusal) = vm.status().after(command) {
        println!("tessera: vm {verb} {id}: VM {id} ({name}): {refusal}");
        return;
    }
    if matches!(command, Command::Start | Command::Restart)
        && let Err(reason) = entry.prepare_start()
    {
        println!("tessera: vm {verb} {id}: VM {id} ({name}): {reason}");
        return;
    }
    match vm.command(command) {
        // Deleted.
        Ok(None) => {
            entry.mark_deleted();
            registry::remove(id);
            println!("tessera: VM {id} ({name}): {verb} asked");
        }
        Ok(Some(VmStatus::Stopped)) => {
            irq::kick_all(entry);
            entry.report_end();
        }
        Ok(_) => {
            println!("tessera: VM {id} ({name}): {verb} asked");
            irq::kick_all(entry);
        }
        Err(refusal) => println!("tessera: vm {verb} {id}: VM {id} ({name}): {refusal}"),
    }
}
