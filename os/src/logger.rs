//! The `log` backend: `[cpu N LEVEL] message` lines on the console, filtered by the
//! level chosen at build time (`LOG=` in the Makefile, `TESSERA_LOG` for cargo).

use log::{LevelFilter, Log, Metadata, Record};

/// Level filter compiled in.
const LEVEL: &str = match option_env!("TESSERA_LOG") {
    Some(level) => level,
    None => "info",
};

struct Logger;

static LOGGER: Logger = Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            crate::console::print(format_args!(
                "[cpu {} {:5}] {}\n",
                crate::hal::cpu_index(),
                record.level(),
                record.args()
            ));
        }
    }

    fn flush(&self) {}
}

/// The level named by `LEVEL` (unknown names mean `info`).
fn level_filter() -> LevelFilter {
    match LEVEL.as_bytes() {
        b"off" => LevelFilter::Off,
        b"error" => LevelFilter::Error,
        b"warn" => LevelFilter::Warn,
        b"debug" => LevelFilter::Debug,
        b"trace" => LevelFilter::Trace,
        _ => LevelFilter::Info,
    }
}

/// Installs the logger; called once on the boot CPU.
pub fn init() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level_filter());
}
