//! Boots a built hypervisor under QEMU with a deadline, streaming and recording the
//! serial console, and judges the run by QEMU's exit status and the hypervisor's verdict.

use crate::build::Built;
use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wait_timeout::ChildExt;

/// The line the hypervisor prints when every VM ended cleanly, just before it powers off.
pub const VERDICT_CLEAN: &str = "tessera: all VMs ended cleanly";

/// How a boot ended.
pub struct Outcome {
    /// QEMU's exit status, or `None` when it was stopped at the deadline.
    pub status: Option<ExitStatus>,
    /// Everything the serial console printed.
    pub output: String,
}

impl Outcome {
    /// Ok when QEMU exited 0 by itself and the hypervisor said every VM ended cleanly.
    pub fn into_result(self) -> Result<()> {
        self.powered_off()?;
        if !self.output.contains(VERDICT_CLEAN) {
            bail!("the hypervisor did not report that every VM ended cleanly");
        }
        Ok(())
    }

    /// Ok when QEMU exited 0 by itself (the hypervisor powered the machine off),
    /// whatever became of the VMs.
    pub fn powered_off(&self) -> Result<()> {
        match self.status {
            None => bail!("QEMU did not finish before the deadline and was stopped"),
            Some(status) if !status.success() => bail!("QEMU exited with {status}"),
            Some(_) => Ok(()),
        }
    }
}

/// What is typed on the console during a boot.
pub enum Typing {
    /// What the user types (standard input is passed to QEMU).
    User,
    /// Nothing.
    Nothing,
    /// Scripted: each text is typed once the console has shown its trigger.
    Script(&'static [(&'static str, &'static str)]),
}

/// Starts QEMU on `built`, stops it after `timeout`, echoes the console, and types on
/// it as `typing` says.
pub fn boot(built: &Built, timeout: Duration, typing: Typing) -> Result<Outcome> {
    run(hypervisor_command(built), timeout, typing)
}

/// The QEMU command line that boots the hypervisor image of `built`.
pub fn hypervisor_command(built: &Built) -> Command {
    let q = &built.platform.qemu;
    let mut cmd = Command::new(&q.binary);
    cmd.args(["-machine", &q.machine, "-cpu", &q.cpu])
        .args([
            "-smp",
            &q.smp.to_string(),
            "-m",
            &format!("{}M", q.memory_mib),
        ])
        .args(&q.extra_args)
        .args(["-nographic", "-monitor", "none", "-serial", "stdio"])
        .arg("-kernel")
        .arg(&built.image);
    if let Some(disk) = &built.disk {
        // Read-only: the hypervisor only reads its disk.
        cmd.arg("-drive")
            .arg(format!(
                "file={},if=none,format=raw,id=disk0,readonly=on",
                disk.display()
            ))
            .arg("-device")
            .arg(format!(
                "{},drive=disk0",
                q.disk_device.as_deref().unwrap_or("virtio-blk-device")
            ));
    }
    cmd
}

/// Runs QEMU as `cmd` says, stops it after `timeout`, echoes the console, and types on
/// it as `typing` says.
pub fn run(cmd: Command, timeout: Duration, typing: Typing) -> Result<Outcome> {
    run_until(cmd, timeout, typing, None)
}

/// As [`run`], and stops QEMU as soon as the console has shown `stop_at` (the outcome
/// then has no exit status, as at the deadline).
pub fn run_until(
    mut cmd: Command,
    timeout: Duration,
    typing: Typing,
    stop_at: Option<&str>,
) -> Result<Outcome> {
    let binary = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(match typing {
        Typing::User => Stdio::inherit(),
        Typing::Nothing => Stdio::null(),
        Typing::Script(_) => Stdio::piped(),
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {binary}"))?;
    let mut stdout = child.stdout.take().context("QEMU has no stdout")?;
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&output);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf[..n]);
            let _ = out.flush();
            if let Ok(mut all) = sink.lock() {
                all.extend_from_slice(&buf[..n]);
            }
        }
    });
    if let (Typing::Script(steps), Some(stdin)) = (typing, child.stdin.take()) {
        let seen = Arc::clone(&output);
        std::thread::spawn(move || type_script(stdin, steps, &seen));
    }
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let seen = stop_at.is_some_and(|marker| {
            output
                .lock()
                .is_ok_and(|all| String::from_utf8_lossy(&all).contains(marker))
        });
        if seen || left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if let Some(status) = child.wait_timeout(left.min(Duration::from_millis(200)))? {
            break Some(status);
        }
    };
    let _ = reader.join();
    drop(child.stdin.take());
    let bytes = output.lock().map(|all| all.clone()).unwrap_or_default();
    Ok(Outcome {
        status,
        output: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Types each step's text once the console output holds its trigger (after the
/// previous step's), polling the output; stops when QEMU's input closes.
fn type_script(
    mut stdin: std::process::ChildStdin,
    steps: &[(&str, &str)],
    output: &Mutex<Vec<u8>>,
) {
    let mut from = 0;
    for (trigger, text) in steps {
        loop {
            let found = output.lock().ok().and_then(|all| {
                let seen = String::from_utf8_lossy(all.get(from..)?).into_owned();
                seen.find(trigger).map(|at| from + at + trigger.len())
            });
            if let Some(end) = found {
                from = end;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return;
        }
    }
}
