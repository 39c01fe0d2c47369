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
        match self.status {
            None => bail!("QEMU did not finish before the deadline and was stopped"),
            Some(status) if !status.success() => bail!("QEMU exited with {status}"),
            Some(_) if !self.output.contains(VERDICT_CLEAN) => {
                bail!("the hypervisor did not report that every VM ended cleanly")
            }
            Some(_) => Ok(()),
        }
    }
}

/// Starts QEMU on `built`, stops it after `timeout`, and, when `echo`, echoes the
/// console and passes what is typed to the guest that has the console.
pub fn boot(built: &Built, timeout: Duration, echo: bool) -> Result<Outcome> {
    let q = &built.platform.qemu;
    let mut cmd = Command::new(&q.binary);
    cmd.args(["-machine", &q.machine, "-cpu", &q.cpu])
        .args([
            "-smp",
            &q.smp.to_string(),
            "-m",
            &format!("{}M", q.memory_mib),
        ])
        .args(["-nographic", "-monitor", "none", "-serial", "stdio"])
        .arg("-kernel")
        .arg(&built.image)
        .stdin(if echo {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", q.binary))?;
    let mut stdout = child.stdout.take().context("QEMU has no stdout")?;
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&output);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if echo {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
            if let Ok(mut all) = sink.lock() {
                all.extend_from_slice(&buf[..n]);
            }
        }
    });
    let status = match child.wait_timeout(timeout)? {
        Some(status) => Some(status),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    let _ = reader.join();
    let bytes = output.lock().map(|all| all.clone()).unwrap_or_default();
    Ok(Outcome {
        status,
        output: String::from_utf8_lossy(&bytes).into_owned(),
    })
}
